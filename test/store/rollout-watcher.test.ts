import { performance } from 'node:perf_hooks'
import t from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { createKeys } from '../../src/store/keys.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { readRolloutState, writeRolloutState } from '../../src/store/rollout-store.js'
import { startTestShadowramp, memoryLogger } from '../helpers/gateway.js'
import { json, startBackend } from '../helpers/http.js'
import { spawnGateway, stopProcess } from '../helpers/process.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

async function readPercentage (adminUrl: string, route: string): Promise<number | undefined> {
  const response = await request(`${adminUrl}/readyz`)
  const body = await response.body.json() as { percentages: Record<string, number> }
  return body.percentages[route]
}

async function waitFor (check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return Infinity
}

t.test('a percentage written to Redis reaches two gateway processes within one second', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace()
  const backend = await startBackend((request, response) => json(response, 200, { path: request.url }))
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    redis: { url: redisUrl, namespace, rereadMs: 60_000 },
    routes: [{ name: 'products', paths: ['/products'], baseline: { url: backend.url }, candidate: { url: backend.url }, percentage: 5 }]
  }
  const gateways = await Promise.all([spawnGateway(config), spawnGateway(config)])
  const redis = new Redis(redisUrl)
  t.teardown(async () => {
    await Promise.all(gateways.map(async (gateway) => await gateway.stop()))
    redis.disconnect()
    await backend.close()
    await dropNamespace(redisUrl, namespace)
  })

  for (const gateway of gateways) t.equal(await readPercentage(gateway.adminUrl, 'products'), 5, 'both start at the configured percentage')

  // The periodic re-read is set to a minute: only the announcement can be this fast.
  await writeRolloutState(redis, createKeys(namespace), 'products', { percentage: 37.25, actor: 'test', reason: 'raise' })
  const elapsed = await Promise.all(gateways.map(async (gateway) =>
    await waitFor(async () => await readPercentage(gateway.adminUrl, 'products') === 37.25, 3_000)))

  for (const ms of elapsed) t.ok(ms < 1_000, `seen after ${ms.toFixed(0)} ms`)
})

t.test('a restarted gateway takes its percentages from Redis, not from its configuration', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace()
  const redis = new Redis(redisUrl)
  await writeRolloutState(redis, createKeys(namespace), 'products', { percentage: 64, actor: 'test', reason: 'set before start' })
  const running = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'products', paths: ['/p'], baseline: { url: 'http://127.0.0.1:9' }, candidate: { url: 'http://127.0.0.1:9' }, percentage: 1 }]
  }, { redisUrl })
  t.teardown(async () => { await running.close(); redis.disconnect(); await dropNamespace(redisUrl, namespace) })

  t.equal(running.watcher.percentageOf('products'), 64)
})

t.test('with Redis stopped mid-run, live requests are still answered 200 and the outage is logged once', async (t) => {
  const { port, server } = await startPrivateRedis()
  const redisUrl = `redis://127.0.0.1:${port}`
  const backend = await startBackend((request, response) => json(response, 200, { path: request.url }))
  const { logger, lines } = memoryLogger('info')
  const running = await startTestShadowramp({
    redis: { url: redisUrl, rereadMs: 200 },
    routes: [{ name: 'products', paths: ['/products/:id'], baseline: { url: backend.url }, candidate: { url: backend.url }, percentage: 50 }]
  }, { redisUrl, logger })
  t.teardown(async () => { await running.close(); await backend.close(); server.kill('SIGKILL') })

  const statuses: number[] = []
  const sendBatch = async (count: number): Promise<void> => {
    for (let index = 0; index < count; index++) {
      const response = await request(`${running.gatewayUrl}/products/${index}`, { headers: { 'x-user-id': `u${index}` } })
      await response.body.dump()
      statuses.push(response.statusCode)
    }
  }

  await sendBatch(50)
  await stopProcess(server, 'SIGKILL')
  await sendBatch(100)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  await sendBatch(100)

  t.equal(statuses.length, 250)
  t.ok(statuses.every((status) => status === 200), 'every live request answered 200')
  t.equal(running.watcher.percentageOf('products'), 50, 'the last percentage known still serves')

  const ready = await (await request(`${running.adminUrl}/readyz`)).body.json() as { status: string, redis: { reachable: boolean } }
  t.equal(ready.status, 'degraded')
  t.equal(ready.redis.reachable, false)
  const metrics = await (await request(`${running.adminUrl}/metrics`)).body.text()
  t.match(metrics, /^shadowramp_redis_up 0$/m)

  const outageLines = lines().filter((line) => line.msg === 'redis unreachable; serving with the last percentages known')
  t.equal(outageLines.length, 1, 'one log line for the outage, not one per request or per reconnect attempt')

  const restarted = await startPrivateRedis(port)
  t.teardown(() => { restarted.server.kill('SIGKILL') })
  t.ok(await waitFor(async () => running.watcher.health().reachable, 5_000) < Infinity, 'reachable again after the restart')
  const redis = new Redis(redisUrl)
  // The restarted Redis is empty: the gateway puts back what it served, and says it did.
  const keys = createKeys(running.config.redis.namespace)
  t.ok(await waitFor(async () => await readRolloutState(redis, keys, 'products') !== undefined, 3_000) < Infinity, 'the percentage is put back')
  const restored = await readRolloutState(redis, keys, 'products')
  t.match(restored, { percentage: 50, actor: 'gateway', reason: /^restored: the percentage the gateways were serving/ })
  await writeRolloutState(redis, keys, 'products', { percentage: 80, actor: 'test', reason: 'after outage' })
  redis.disconnect()
  t.ok(await waitFor(async () => running.watcher.percentageOf('products') === 80, 3_000) < Infinity, 'changes are followed again')
  t.equal(lines().filter((line) => line.msg === 'redis reachable again; following rollout state').length, 1)
})
