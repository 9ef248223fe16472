import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { configSchema, type Config } from '../../src/config/schema.js'
import { batchHeader, encodeBatchParts } from '../../src/shadow/pair-codec.js'
import { PairBatcher } from '../../src/shadow/pair-batcher.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import type { Pair } from '../../src/shadow/pair.js'
import { readDivergence, readExamples, recordPairs } from '../../src/store/diff-aggregates.js'
import { createKeys } from '../../src/store/keys.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { createRegistry } from '../../src/telemetry/metrics.js'
import { PairWorker } from '../../src/worker/pair-worker.js'
import { startTestShadowramp, memoryLogger, testConfig } from '../helpers/gateway.js'
import { json, startBackend } from '../helpers/http.js'
import { jsonAnswer, makePair } from '../helpers/pair-factory.js'
import { spawnWorker } from '../helpers/process.js'
import { adminConnection, dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

// Every test here runs within minutes, so a report over the last ten minutes
// sees all of it; a wider window reads more buckets on every poll.
const window = 10 * 60 * 1_000

function workerConfig (namespace: string, redisUrl: string, extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    redis: { url: redisUrl, namespace },
    worker: { lockMs: 1_000, listen: { host: '127.0.0.1', port: 0 } },
    log: { level: 'warn' },
    routes: [
      { name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, compare: { ignorePaths: ['**.traceId'] } },
      { name: 'other', paths: ['/other'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }
    ],
    ...extra
  })
}

async function enqueue (redisUrl: string, config: Config, pairs: Pair[]): Promise<void> {
  const { logger } = memoryLogger()
  const queue = new PairQueue({ keys: createKeys(config.redis.namespace), config: config.shadow, logger })
  await queue.start(redisUrl)
  const dropped: string[] = []
  const batcher = new PairBatcher(queue, config.shadow, { onEnqueued: () => {}, onDropped: (_route, reason) => dropped.push(reason), onPendingBytes: () => {} }, logger)
  for (const pair of pairs) batcher.add(pair)
  await batcher.drain(20_000)
  await queue.close()
  if (dropped.length > 0) throw new Error(`pairs dropped while enqueueing: ${dropped.join(', ')}`)
}

async function startWorker (t: Test, redisUrl: string, config: Config): Promise<PairWorker> {
  const { logger } = memoryLogger('warn')
  const worker = new PairWorker({ config, redisUrl, logger, registry: createRegistry(false), refreshMs: 0 })
  worker.start()
  t.teardown(async () => await worker.close())
  return worker
}

async function waitForCount (redisUrl: string, namespace: string, route: string, pairs: number, timeoutMs = 20_000): Promise<number> {
  const redis = new Redis(redisUrl)
  const deadline = performance.now() + timeoutMs
  try {
    let counted = 0
    while (performance.now() < deadline) {
      counted = (await readDivergence(redis, createKeys(namespace), route, Date.now() - window, Date.now() + 60_000)).pairs
      if (counted >= pairs) return counted
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return counted
  } finally {
    redis.disconnect()
  }
}

async function report (redisUrl: string, namespace: string, route: string) {
  const redis = new Redis(redisUrl)
  try {
    return await readDivergence(redis, createKeys(namespace), route, Date.now() - window, Date.now() + 60_000)
  } finally {
    redis.disconnect()
  }
}

async function setUp (t: Test): Promise<{ redisUrl: string, namespace: string, config: Config }> {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('worker')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  return { redisUrl, namespace, config: workerConfig(namespace, redisUrl) }
}

t.test('each verdict is counted once, with its paths, statuses and reasons', async (t) => {
  const { redisUrl, namespace, config } = await setUp(t)
  const item = { id: 7, price: 10, traceId: 'a' }
  const pairs = [
    makePair('feed', jsonAnswer({ items: [item] }), jsonAnswer({ items: [item] })),
    makePair('feed', jsonAnswer({ items: [item] }), jsonAnswer({ items: [{ ...item, traceId: 'b' }] })),
    makePair('feed', jsonAnswer({ items: [item, item] }), jsonAnswer({ items: [{ ...item, price: '10' }, item] })),
    makePair('feed', jsonAnswer({ items: [] }), jsonAnswer({ items: [] }, 404)),
    makePair('feed', jsonAnswer({ items: [] }), { status: 0, headers: {}, bodyBytes: 0, latencyMs: 2000, failure: 'timeout' }),
    makePair('feed', jsonAnswer(null), jsonAnswer({ items: [] })),
    makePair('other', { ...jsonAnswer({}), body: Buffer.from('{"broken":') }, jsonAnswer({}))
  ]
  await enqueue(redisUrl, config, pairs)
  await startWorker(t, redisUrl, config)
  t.equal(await waitForCount(redisUrl, namespace, 'feed', 6), 6)
  t.equal(await waitForCount(redisUrl, namespace, 'other', 1), 1)

  const feed = await report(redisUrl, namespace, 'feed')
  t.match(feed, { pairs: 6, compared: 5, identical: 1, noiseOnly: 1, diverging: 2, statusMismatch: 1, notComparable: 1, withIgnored: 1 })
  t.equal(feed.divergenceRate, 3 / 5)
  t.same(feed.paths.map(({ path, kind, count }) => `${kind} ${path} ${count}`).sort(), ['type-changed  1', 'type-changed items[*].price 1'])
  t.same(feed.statuses, [{ baseline: 200, candidate: 404, count: 1 }])
  t.same(feed.reasons, [{ reason: 'candidate gave no answer: timeout', count: 1 }])
  t.same(feed.ignoredPaths, [{ path: 'items[*].traceId', count: 1 }])

  const other = await report(redisUrl, namespace, 'other')
  t.same(other.reasons, [{ reason: 'baseline body is not JSON', count: 1 }])

  const redis = new Redis(redisUrl)
  t.teardown(() => redis.disconnect())
  const [example] = await readExamples(redis, createKeys(namespace), 'feed', 'type-changed', 'items[*].price')
  t.match(JSON.parse(example ?? '{}'), {
    request: { method: 'GET', path: '/feed' },
    differences: [{ path: 'items[*].price', kind: 'type-changed', at: 'items[0].price', baseline: 10, candidate: '10' }]
  }, 'an example pair is kept for each diverging path, with both bodies and the request')
})

t.test('a batch counted once is not counted again when it comes back', async (t) => {
  const { redisUrl, namespace, config } = await setUp(t)
  const pairs = Array.from({ length: 10 }, () => makePair('feed', jsonAnswer({ a: 1 }), jsonAnswer({ a: 2 })))
  const keys = createKeys(namespace)
  const redis = new Redis(redisUrl)
  t.teardown(() => redis.disconnect())

  const records = pairs.map((pair) => ({ capturedAt: pair.capturedAt, verdict: 'diverging' as const, differences: [{ path: 'a', kind: 'changed' }], ignored: [], noise: [] }))
  t.equal(await recordPairs(redis, keys, 'feed', 'batch-1', records), true)
  t.equal(await recordPairs(redis, keys, 'feed', 'batch-1', records), false, 'the second time is refused')
  t.equal((await report(redisUrl, namespace, 'feed')).pairs, 10)

  // The same batch queued twice under the same id, its bytes still there the second time.
  const queue = new PairQueue({ keys, config: config.shadow, logger: memoryLogger().logger })
  await queue.start(redisUrl)
  const batch = encodeBatchParts(pairs)
  await queue.write('batch-2', batch, pairs.length)
  await startWorker(t, redisUrl, config)
  t.equal(await waitForCount(redisUrl, namespace, 'feed', 20), 20)
  await queue.write('batch-2', batch, pairs.length)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  await queue.close()
  t.equal((await report(redisUrl, namespace, 'feed')).pairs, 20, 'the retried batch added nothing')
})

t.test('a damaged batch, or one in an earlier format, goes to the failed set with its error at once', async (t) => {
  const { redisUrl, namespace, config } = await setUp(t)
  const keys = createKeys(namespace)
  const queue = new PairQueue({ keys, config: config.shadow, logger: memoryLogger().logger })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  await queue.write('damaged', [batchHeader(3), Buffer.from('{"not": "a pair"}')], 3)
  await queue.write('earlier', [Buffer.from('SRB2\u0000\u0000\u0000\u0001'), Buffer.from('{"id":"x"}')], 1)
  // Gateways before SRB4 stored a batch as a list: its job finds no string.
  await queue.write('as-a-list', [batchHeader(1)], 1)
  const admin = adminConnection(t, redisUrl)
  await admin.unlink(keys.pairBatch('as-a-list'))
  await admin.rpush(keys.pairBatch('as-a-list'), Buffer.from('SRB3\u0000\u0000\u0000\u0001'))
  await startWorker(t, redisUrl, config)

  const inspect = new Queue(keys.pairQueue, { connection: { url: redisUrl }, prefix: keys.queuePrefix })
  t.teardown(async () => await inspect.close())
  let failed = await inspect.getFailed()
  for (let attempt = 0; attempt < 100 && failed.length < 3; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    failed = await inspect.getFailed()
  }
  const reasons = Object.fromEntries(failed.map((job) => [job.id, job.failedReason]))
  t.same(Object.keys(reasons).sort(), ['as-a-list', 'damaged', 'earlier'])
  t.match(reasons['damaged'], /batch of pairs is damaged: batch cut short at pair 0/)
  t.match(reasons['earlier'], 'batch of pairs is damaged: not a batch of pairs of this version: it starts with "SRB2", this version writes "SRB5"')
  t.match(reasons['as-a-list'], /batch of pairs is damaged: .*pair-batch:as-a-list is not a string, as gateways of this version write it \(gateways of an earlier version wrote lists/)
  t.same(failed.map((job) => job.attemptsMade), [1, 1, 1], 'not retried: they would not decode the next time either')
})

t.test('noise learned from repeated baseline answers is kept out of the divergence; a real change is not', async (t) => {
  const redisUrl = await testRedisUrl()
  let price = 10
  let counter = 0
  const fresh = (): Record<string, unknown> => ({ generatedAt: new Date(Date.now() + counter++).toISOString(), requestId: `r-${Math.random()}`, item: { id: 1, price } })
  const baseline = await startBackend((_request, response) => json(response, 200, fresh()))
  // The candidate keeps the old price: once the baseline's changes, they really differ.
  const candidate = await startBackend((_request, response) => json(response, 200, { ...fresh(), item: { id: 1, price: 10 } }))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 0, mirror: { noiseSampleRate: 100 } }]
  }, { redisUrl })
  t.teardown(gateway.close)
  const namespace = gateway.config.redis.namespace
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  await startWorker(t, redisUrl, workerConfig(namespace, redisUrl))

  const send = async (count: number): Promise<void> => {
    for (let index = 0; index < count; index++) await (await request(`${gateway.gatewayUrl}/feed`)).body.dump()
  }
  await send(5)
  await waitForCount(redisUrl, namespace, 'feed', 5)
  const warm = await report(redisUrl, namespace, 'feed')
  t.ok(warm.noiseSamples >= 5, `${warm.noiseSamples} noise samples taken`)

  await send(20)
  await waitForCount(redisUrl, namespace, 'feed', 25)
  const afterWarmUp = await report(redisUrl, namespace, 'feed')
  t.equal(afterWarmUp.diverging - warm.diverging, 0, 'no divergence after warm-up')
  t.equal(afterWarmUp.noiseOnly - warm.noiseOnly, 20, 'every pair after warm-up is noise only')
  t.same(afterWarmUp.noisePaths.map((entry) => entry.path).sort(), ['generatedAt', 'requestId'])

  price = 12
  await send(5)
  await waitForCount(redisUrl, namespace, 'feed', 30)
  const changed = await report(redisUrl, namespace, 'feed')
  t.equal(changed.diverging - afterWarmUp.diverging, 5, 'the real change diverges')
  const grown = changed.paths.filter((entry) => entry.count > (afterWarmUp.paths.find((before) => before.path === entry.path && before.kind === entry.kind)?.count ?? 0))
  t.same(grown.map((entry) => `${entry.kind} ${entry.path}`), ['changed item.price'], 'only the real change is a diverging path since warm-up')
})

t.test('a worker killed with SIGKILL during 10,000 pairs loses none and counts none twice', async (t) => {
  const { redisUrl, namespace, config } = await setUp(t)
  const pairs = Array.from({ length: 10_000 }, (_value, index) =>
    index % 2 === 0
      ? makePair(index % 3 === 0 ? 'other' : 'feed', jsonAnswer({ n: index, items: [1, 2, 3] }), jsonAnswer({ n: index, items: [1, 2, 4] }))
      : makePair(index % 3 === 0 ? 'other' : 'feed', jsonAnswer({ n: index }), jsonAnswer({ n: index })))
  const expected = { feed: pairs.filter((pair) => pair.route === 'feed').length, other: pairs.filter((pair) => pair.route === 'other').length }
  await enqueue(redisUrl, config, pairs)

  const first = await spawnWorker(config)
  t.teardown(async () => await first.stop('SIGKILL'))
  await waitForCount(redisUrl, namespace, 'feed', 500)
  await first.stop('SIGKILL')
  const countedByFirst = (await report(redisUrl, namespace, 'feed')).pairs + (await report(redisUrl, namespace, 'other')).pairs
  t.ok(countedByFirst < pairs.length, `the first worker was killed after counting ${countedByFirst} pairs`)

  const second = await spawnWorker(config)
  t.teardown(async () => await second.stop())
  t.equal(await waitForCount(redisUrl, namespace, 'feed', expected.feed, 60_000), expected.feed)
  t.equal(await waitForCount(redisUrl, namespace, 'other', expected.other, 60_000), expected.other)
  await new Promise((resolve) => setTimeout(resolve, 1_500))

  const feed = await report(redisUrl, namespace, 'feed')
  const other = await report(redisUrl, namespace, 'other')
  t.equal(feed.pairs, expected.feed, 'every feed pair counted exactly once')
  t.equal(other.pairs, expected.other, 'every other pair counted exactly once')
  t.equal(feed.identical + other.identical, 5_000)
  t.equal(feed.diverging + other.diverging, 5_000)
})

t.test('SIGTERM lets a worker finish the batches in hand and exit; nothing is left half done', async (t) => {
  const { redisUrl, namespace, config } = await setUp(t)
  const pairs = Array.from({ length: 2_000 }, (_value, index) => makePair('feed', jsonAnswer({ n: index, v: 1 }), jsonAnswer({ n: index, v: 2 })))
  await enqueue(redisUrl, config, pairs)

  const worker = await spawnWorker(config)
  await waitForCount(redisUrl, namespace, 'feed', 200)
  const started = performance.now()
  const code = await worker.stop('SIGTERM')
  t.equal(code, 0, 'exits cleanly')
  t.ok(performance.now() - started < 5_000, 'promptly')

  const keys = createKeys(namespace)
  const inspect = new Queue(keys.pairQueue, { connection: { url: redisUrl }, prefix: keys.queuePrefix })
  t.teardown(async () => await inspect.close())
  const counts = await inspect.getJobCounts('active', 'waiting', 'failed')
  t.equal(counts.active, 0, 'no batch left active')
  t.equal(counts.failed, 0)
  const counted = (await report(redisUrl, namespace, 'feed')).pairs
  const waitingPairs = (await inspect.getWaiting()).reduce((sum, job) => sum + job.data.pairs, 0)
  t.equal(counted + waitingPairs, 2_000, `${counted} counted and ${waitingPairs} still waiting: none lost`)
})

t.test('the worker command serves /healthz and /metrics', async (t) => {
  const { redisUrl, namespace } = await setUp(t)
  const config = testConfig({ worker: { listen: { host: '127.0.0.1', port: 0 } }, routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }] }, namespace)
  const worker = await spawnWorker({ ...config, redis: { ...config.redis, url: redisUrl } })
  t.teardown(async () => await worker.stop())
  t.equal((await request(`${worker.metricsUrl}/healthz`)).statusCode, 200)
  t.match(await (await request(`${worker.metricsUrl}/metrics`)).body.text(), /shadowramp_worker_batches_total/)
})

t.test('a Redis outage is logged once when it begins and once when it ends, however long it lasts', async (t) => {
  const { port, server } = await startPrivateRedis()
  const redisUrl = `redis://127.0.0.1:${port}`
  const { logger, lines } = memoryLogger('info')
  const worker = new PairWorker({ config: workerConfig(uniqueNamespace('outage'), redisUrl), redisUrl, logger, registry: createRegistry(false) })
  worker.start()
  await sleep(500)

  server.kill('SIGKILL')
  // BullMQ reports a failed attempt to reach Redis several times a second.
  await sleep(4_000)
  const lost = lines().filter((line) => String(line.msg).includes('lost its connection'))
  const warnings = lines().filter((line) => Number(line.level) >= 40)

  const again = await startPrivateRedis(port)
  t.teardown(async () => { await worker.close(); again.server.kill('SIGKILL') })
  const deadline = performance.now() + 15_000
  while (performance.now() < deadline && !lines().some((line) => line.msg === 'diff worker reached Redis again')) await sleep(100)

  t.equal(lost.length, 1, 'the outage is said once')
  t.equal(warnings.length, 1, 'and nothing else is logged at warn while it lasts')
  t.ok(lines().some((line) => line.msg === 'diff worker reached Redis again'), 'the end of the outage is said')
})
