import { once } from 'node:events'
import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { connectRedis, waitUntilReady, type RedisClient } from '../../src/store/redis-connection.js'
import { RedisHeartbeat } from '../../src/store/redis-heartbeat.js'
import { waitFor } from '../helpers/admin-api.js'
import { adminConnection, privateRedis } from '../helpers/redis.js'

/** Short enough for a test; the production pace is one PING a second with two to answer. */
const intervalMs = 100
const deadlineMs = 300

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

async function readyConnection (t: Test, url: string): Promise<RedisClient> {
  const redis = connectRedis(url, { connectionName: 'heartbeat-test' })
  t.teardown(() => redis.disconnect())
  t.ok(await waitUntilReady(redis, 2_000), 'connected')
  return redis
}

/** PINGs Redis has answered since it started, whoever sent them. */
async function pingsAnswered (inspect: Redis): Promise<number> {
  const stats = await inspect.info('commandstats')
  return Number(/^cmdstat_ping:calls=(\d+)/m.exec(stats)?.[1] ?? 0)
}

function startHeartbeat (t: Test, redis: RedisClient): { heartbeat: RedisHeartbeat, told: boolean[] } {
  const told: boolean[] = []
  const heartbeat = new RedisHeartbeat({ redis, intervalMs, deadlineMs, onChange: (answering) => told.push(answering) })
  heartbeat.start()
  t.teardown(() => heartbeat.stop())
  return { heartbeat, told }
}

t.test('a paused Redis is told once as silent and once as answering, with one PING waiting meanwhile', async (t) => {
  const { url, server } = await privateRedis(t)
  const inspect = adminConnection(t, url)
  const redis = await readyConnection(t, url)
  const { told } = startHeartbeat(t, redis)

  await sleep(4 * intervalMs)
  t.same(told, [], 'nothing to tell while Redis answers')
  const before = await pingsAnswered(inspect)
  t.ok(before >= 2, `PINGs are sent while Redis answers (${before})`)

  server.kill('SIGSTOP')
  const silentAfter = await waitFor(async () => told.length > 0, 3_000)
  t.ok(silentAfter < Infinity, `told silent after ${silentAfter.toFixed(0)} ms`)
  t.equal(redis.status, 'ready', 'the connection itself never noticed')
  // Ten more ticks pass while the first PING waits.
  await sleep(10 * intervalMs)

  server.kill('SIGCONT')
  t.ok(await waitFor(async () => told.length > 1, 3_000) < Infinity, 'told answering once Redis wakes')
  const sentDuringPause = await pingsAnswered(inspect) - before
  t.ok(sentDuringPause <= 4, `one PING at a time: ${sentDuringPause} answered since the pause, not one per tick`)
  await sleep(4 * intervalMs)
  t.same(told, [false, true], 'one change each way')
})

t.test('stop() sends no more PINGs and says nothing of the one still waiting', async (t) => {
  const { url, server } = await privateRedis(t)
  const inspect = adminConnection(t, url)
  const redis = await readyConnection(t, url)
  const { heartbeat, told } = startHeartbeat(t, redis)

  server.kill('SIGSTOP')
  t.ok(await waitFor(async () => told.length > 0, 3_000) < Infinity, 'told silent')
  heartbeat.stop()
  server.kill('SIGCONT')
  // Counted once the PING that waited has surely been answered.
  await sleep(2 * intervalMs)
  const before = await pingsAnswered(inspect)
  await sleep(6 * intervalMs)

  t.equal(await pingsAnswered(inspect) - before, 0, 'no PING after stop()')
  t.same(told, [false], 'the late answer of the waiting PING is not told')
})

t.test('a PING that fails with its closed connection tells nothing', async (t) => {
  const { url, server } = await privateRedis(t)
  const redis = await readyConnection(t, url)
  const { told } = startHeartbeat(t, redis)

  server.kill('SIGSTOP')
  t.ok(await waitFor(async () => told.length > 0, 3_000) < Infinity, 'told silent')
  // Closed while Redis is still stopped, so the waiting PING can only fail
  // (ioredis gives a peer that never answers the close two seconds).
  const closed = once(redis, 'end')
  redis.disconnect()
  await closed
  server.kill('SIGCONT')
  await sleep(6 * intervalMs)

  t.same(told, [false], 'the failed PING is the connection\'s news, not the heartbeat\'s')
})

t.test('after the connection is replaced, a new silence on it is told again', async (t) => {
  const { url, server } = await privateRedis(t)
  const redis = await readyConnection(t, url)
  const { told } = startHeartbeat(t, redis)

  server.kill('SIGSTOP')
  t.ok(await waitFor(async () => told.length > 0, 3_000) < Infinity, 'told silent')
  const reconnected = once(redis, 'ready')
  redis.disconnect(true)
  server.kill('SIGCONT')
  await reconnected
  t.ok(await waitFor(async () => told.length > 1, 3_000) < Infinity, 'told answering on the new connection')

  server.kill('SIGSTOP')
  t.ok(await waitFor(async () => told.length > 2, 3_000) < Infinity, 'the second silence is told')
  server.kill('SIGCONT')
  t.ok(await waitFor(async () => told.length > 3, 3_000) < Infinity, 'and its end')
  t.same(told, [false, true, false, true])
})
