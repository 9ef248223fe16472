import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { readDivergence } from '../../src/store/diff-aggregates.js'
import { createKeys } from '../../src/store/keys.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { connectRedis, waitUntilReady } from '../../src/store/redis-connection.js'
import { writeRolloutState } from '../../src/store/rollout-store.js'
import { json, startBackend } from '../helpers/http.js'
import { spawnGateway, spawnWorker, type GatewayProcess } from '../helpers/process.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { uniqueNamespace } from '../helpers/redis.js'

/*
 * Two gateway processes and two diff workers on one Redis, then on a
 * three-node Redis Cluster: every pair is counted exactly once, and a
 * percentage change reaches both gateways within a second.
 */

async function metricSum (adminUrl: string, name: string): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text()
  return text.split('\n').filter((line) => line.startsWith(name)).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

async function readPercentage (gateway: GatewayProcess): Promise<number | undefined> {
  const body = await (await request(`${gateway.adminUrl}/readyz`)).body.json() as { percentages: Record<string, number> }
  return body.percentages.feed
}

async function scaleOut (t: Test, redisUrl: string): Promise<void> {
  const namespace = uniqueNamespace('scale')
  const baseline = await startBackend((request, response) => json(response, 200, { path: request.url, version: 1 }))
  const candidate = await startBackend((request, response) => json(response, 200, { path: request.url, version: request.url.endsWith('7') ? 2 : 1 }))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    redis: { url: redisUrl, namespace, rereadMs: 60_000 },
    controller: { enabled: false },
    worker: { lockMs: 2_000, listen: { host: '127.0.0.1', port: 0 } },
    routes: [{ name: 'feed', paths: ['/feed/*'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 20, mirror: { noiseSampleRate: 0, maxPerSecond: 100_000 } }]
  }
  const gateways = await Promise.all([spawnGateway(config), spawnGateway(config)])
  const workers = await Promise.all([spawnWorker(config), spawnWorker(config)])
  t.teardown(async () => { await Promise.all([...gateways, ...workers].map(async (child) => await child.stop())) })

  const requests = 600
  await Promise.all(gateways.map(async (gateway, side) => {
    for (let index = side; index < requests; index += 2) {
      const response = await request(`${gateway.gatewayUrl}/feed/${index}`, { headers: { 'x-user-id': `u${index}` } })
      await response.body.dump()
      if (response.statusCode !== 200) throw new Error(`live request answered ${response.statusCode}`)
    }
  }))

  const redis = connectRedis(redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 3 })
  t.teardown(() => redis.disconnect())
  await waitUntilReady(redis, 5_000)
  const keys = createKeys(namespace)
  let counted = 0
  let enqueued = 0
  const deadline = performance.now() + 30_000
  while (performance.now() < deadline) {
    enqueued = (await metricSum(gateways[0]?.adminUrl ?? '', 'shadowramp_pairs_enqueued_total')) + (await metricSum(gateways[1]?.adminUrl ?? '', 'shadowramp_pairs_enqueued_total'))
    counted = (await readDivergence(redis, keys, 'feed', Date.now() - 3_600_000, Date.now() + 60_000)).pairs
    if (enqueued === requests && counted >= enqueued) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const report = await readDivergence(redis, keys, 'feed', Date.now() - 3_600_000, Date.now() + 60_000)
  t.equal(enqueued, requests, 'both gateways queued a pair for every request')
  t.equal(report.pairs, requests, 'the two workers counted every pair exactly once')
  t.equal(report.diverging, 60, 'and judged them alike: the paths ending in 7 diverge')
  const judged = (await metricSum(workers[0]?.metricsUrl ?? '', 'shadowramp_worker_pairs_total')) + (await metricSum(workers[1]?.metricsUrl ?? '', 'shadowramp_worker_pairs_total'))
  t.ok(judged >= requests, `the workers shared the batches (${judged} pairs judged in all)`)

  const started = performance.now()
  await writeRolloutState(redis, keys, 'feed', { percentage: 55.5, actor: 'test', reason: 'scale-out' })
  const seen = await Promise.all(gateways.map(async (gateway) => {
    while (performance.now() - started < 3_000) {
      if (await readPercentage(gateway) === 55.5) return performance.now() - started
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return Infinity
  }))
  for (const ms of seen) t.ok(ms < 1_000, `a gateway saw the new percentage after ${ms.toFixed(0)} ms`)
}

t.test('two gateways and two workers on one Redis', async (t) => {
  const { port, server } = await startPrivateRedis()
  t.teardown(() => { server.kill('SIGKILL') })
  await scaleOut(t, `redis://127.0.0.1:${port}`)
})

t.test('two gateways and two workers on a three-node Redis Cluster', async (t) => {
  const cluster = await startRedisCluster()
  t.teardown(cluster.stop)
  await scaleOut(t, cluster.url)
})
