import t from 'tap'
import { configSchema } from '../../src/config/schema.js'
import { PairBatcher } from '../../src/shadow/pair-batcher.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import { createKeys } from '../../src/store/keys.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { memoryLogger } from '../helpers/gateway.js'
import { makePair } from '../helpers/pair-factory.js'
import { readQueuedPairs } from '../helpers/pairs.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

function answer (body: Buffer): CapturedResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body, bodyBytes: body.length, latencyMs: 3 }
}

/** A body of `bytes` bytes that no other pair's body equals. */
function bodyOf (index: number, side: string, bytes: number): Buffer {
  const text = JSON.stringify({ index, side, filler: '' })
  return Buffer.from(text.slice(0, -2) + `${String(index % 10).repeat(Math.max(0, bytes - text.length))}"}`)
}

t.test('pairs keep their bodies as the arena holding them goes round many times while batches are written', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const shadow = configSchema.shape.shadow.parse({ maxPendingBytes: 64 * 1024, batchPairs: 3, batchMs: 1 })
  const { logger } = memoryLogger()
  const queue = new PairQueue({ keys: createKeys(namespace), config: shadow, logger })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const dropped: string[] = []
  const batcher = new PairBatcher(queue, shadow, { onEnqueued: () => {}, onDropped: (_route, reason) => dropped.push(reason), onPendingBytes: () => {} }, logger)

  const sent = new Map<string, Pair>()
  for (let index = 0; index < 400; index++) {
    const bytes = 500 + ((index * 977) % 5_500)
    const pair = makePair('feed', answer(bodyOf(index, 'baseline', bytes)), answer(bodyOf(index, 'candidate', bytes + 7)))
    sent.set(pair.id, pair)
    batcher.add(pair)
    // One pair a turn of the event loop: batches are written while more come in.
    await new Promise((resolve) => setImmediate(resolve))
  }
  await batcher.drain(10_000)

  const queued = await readQueuedPairs(redisUrl, namespace)
  const damaged = queued.filter((pair) => {
    const original = sent.get(pair.id)
    return original?.baseline.body?.equals(pair.baseline.body ?? Buffer.alloc(0)) !== true ||
      original.candidate.body?.equals(pair.candidate.body ?? Buffer.alloc(0)) !== true
  })
  const bytesQueued = queued.reduce((sum, pair) => sum + (pair.baseline.body?.length ?? 0) + (pair.candidate.body?.length ?? 0), 0)
  t.equal(damaged.length, 0, 'every queued pair has the bodies it was captured with')
  t.equal(queued.length + dropped.length, 400, 'every pair was queued or counted as dropped')
  t.ok(dropped.every((reason) => reason === 'redis-slow'), 'pairs that found the arena full were dropped as redis-slow')
  t.ok(bytesQueued > 4 * shadow.maxPendingBytes, `${bytesQueued} bytes went through a ${shadow.maxPendingBytes}-byte arena`)
  t.equal(batcher.pendingBytes, 0, 'nothing is left pending once drained')
})

t.test('while Redis is paused, bodies waiting in the socket are not overwritten by the pairs that come next', async (t) => {
  // A batch of 64 pairs of 200 KB is larger than the socket's kernel
  // buffers (about 4 MB here): the rest of it waits as the arena's views in
  // Node's own write queue until Redis reads again.
  const { port, server } = await startPrivateRedis()
  t.teardown(() => { server.kill('SIGCONT'); server.kill('SIGKILL') })
  const redisUrl = `redis://127.0.0.1:${port}`
  const namespace = uniqueNamespace('batcher-paused')
  const shadow = configSchema.shape.shadow.parse({ maxPendingBytes: 24 * 1024 * 1024, batchPairs: 64, batchMs: 1_000 })
  const { logger } = memoryLogger()
  const queue = new PairQueue({ keys: createKeys(namespace), config: shadow, logger })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const dropped: string[] = []
  const batcher = new PairBatcher(queue, shadow, { onEnqueued: () => {}, onDropped: (_route, reason) => dropped.push(reason), onPendingBytes: () => {} }, logger)
  const sent = new Map<string, Pair>()
  const addPairs = async (from: number, count: number): Promise<void> => {
    for (let index = from; index < from + count; index++) {
      const pair = makePair('feed', answer(bodyOf(index, 'baseline', 100_000)), answer(bodyOf(index, 'candidate', 100_000)))
      sent.set(pair.id, pair)
      batcher.add(pair)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  server.kill('SIGSTOP')
  await addPairs(0, 150)
  server.kill('SIGCONT')
  await addPairs(150, 100)
  await batcher.drain(20_000)

  const queued = await readQueuedPairs(redisUrl, namespace)
  const damaged = queued.filter((pair) => sent.get(pair.id)?.candidate.body?.equals(pair.candidate.body ?? Buffer.alloc(0)) !== true)
  t.ok(queued.length > 100, `${queued.length} pairs queued, among them the ones that waited while Redis was paused`)
  t.equal(damaged.length, 0, 'every queued pair has the bodies it was captured with')
  t.equal(queued.length + dropped.length, 250, 'every pair was queued or counted as dropped')
})

t.test('a body changed after its pair was added does not change what is queued', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const shadow = configSchema.shape.shadow.parse({ batchMs: 50 })
  const { logger } = memoryLogger()
  const queue = new PairQueue({ keys: createKeys(namespace), config: shadow, logger })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const batcher = new PairBatcher(queue, shadow, { onEnqueued: () => {}, onDropped: () => {}, onPendingBytes: () => {} }, logger)

  const baseline = Buffer.from('{"v":1}')
  batcher.add(makePair('feed', answer(baseline), answer(Buffer.from('{"v":2}'))))
  baseline.fill(0x20)
  await batcher.drain(5_000)

  const [queued] = await readQueuedPairs(redisUrl, namespace)
  t.equal(String(queued?.baseline.body), '{"v":1}')
})
