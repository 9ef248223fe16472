import { createServer, type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { configSchema } from '../../src/config/schema.js'
import { PairBatcher } from '../../src/shadow/pair-batcher.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import { calmMs } from '../../src/shadow/trouble-notice.js'
import { createKeys } from '../../src/store/keys.js'
import { memoryLogger } from '../helpers/gateway.js'
import { makePair } from '../helpers/pair-factory.js'
import { readQueuedPairs } from '../helpers/pairs.js'
import { adminConnection, dropNamespace, privateRedis, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

function answer (body: Buffer): CapturedResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body, bodyBytes: body.length, latencyMs: 3 }
}

/** A body of `bytes` bytes that no other pair's body equals. */
function bodyOf (index: number, side: string, bytes: number): Buffer {
  const text = JSON.stringify({ index, side, filler: '' })
  // Each side fills with its own digit, so the candidate's body shares
  // nothing with the baseline's and is stored whole: these tests are about
  // sizes.
  return Buffer.from(text.slice(0, -2) + `${String((index + side.length) % 10).repeat(Math.max(0, bytes - text.length))}"}`)
}

/**
 * A batcher writing to a real queue in `namespace`, with these shadow
 * settings and, if given, this clock; it records the reason of every pair
 * it drops.
 */
async function startBatcher (t: Test, redisUrl: string, namespace: string, settings: Record<string, unknown>, now?: () => number) {
  const shadow = configSchema.shape.shadow.parse(settings)
  const { logger, lines } = memoryLogger()
  const queue = new PairQueue({ keys: createKeys(namespace), config: shadow, logger })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const dropped: string[] = []
  const events = { onEnqueued: () => {}, onDropped: (_route: string, reason: string) => { dropped.push(reason) }, onPendingBytes: () => {} }

  return { batcher: new PairBatcher(queue, shadow, events, logger, now), dropped, shadow, lines }
}

t.test('pairs keep their bodies as the arena holding them goes round many times while batches are written', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const { batcher, dropped, shadow } = await startBatcher(t, redisUrl, namespace, { maxPendingBytes: 64 * 1024, batchPairs: 3, batchMs: 1 })

  const sent = new Map<string, Pair>()
  for (let index = 0; index < 400; index++) {
    const bytes = 500 + ((index * 977) % 5_500)
    const pair = makePair('feed', answer(bodyOf(index, 'baseline', bytes)), answer(bodyOf(index, 'candidate', bytes + 7)))
    sent.set(pair.id, pair)
    batcher.add(pair)
    // One pair a turn of the event loop, so batches are written while more
    // come in; past half the arena, wait for Redis to take some, so that a
    // slow machine still sends the arena round many times rather than
    // dropping most of the pairs.
    await new Promise((resolve) => setImmediate(resolve))
    const giveUpAt = Date.now() + 2_000
    while (batcher.pendingBytes > shadow.maxPendingBytes / 2 && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
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

  const whole = makePair('feed', answer(bodyOf(1_000, 'baseline', 31_000)), answer(bodyOf(1_000, 'candidate', 31_000)))
  batcher.add(whole)
  await batcher.drain(5_000)
  t.ok((await readQueuedPairs(redisUrl, namespace)).some((pair) => pair.id === whole.id),
    'after going round, the arena gives back every byte: a pair of nearly the whole bound is queued')
})

t.test('while Redis is paused, bodies waiting in the socket are not overwritten by the pairs that come next', async (t) => {
  // A batch of 64 pairs of 200 KB, 12.8 MB, is more than the kernel buffers
  // a socket gets by default on Linux (its send buffer grows to 4 MB): the
  // rest of it waits as the arena's views in Node's own write queue until
  // Redis reads again.
  const { url: redisUrl, server } = await privateRedis(t)
  const namespace = uniqueNamespace('batcher-paused')
  const { batcher, dropped } = await startBatcher(t, redisUrl, namespace, { maxPendingBytes: 24 * 1024 * 1024, batchPairs: 64, batchMs: 1_000 })
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

t.test('what is queued is a copy of every body, each in its own slot', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const { batcher } = await startBatcher(t, redisUrl, namespace, { batchMs: 50 })

  const captured = ['{"request":1}', '{"baseline":2}', '{"candidate":3}', '{"repeat":4}'].map((text) => Buffer.from(text))
  const [request, baseline, candidate, repeat] = captured as [Buffer, Buffer, Buffer, Buffer]
  batcher.add(makePair('feed', answer(baseline), answer(candidate), {
    request: { method: 'POST', path: '/feed', query: '', headers: {}, body: request },
    baselineRepeat: answer(repeat)
  }))
  for (const body of captured) body.fill(0x20)
  await batcher.drain(5_000)

  const [queued] = await readQueuedPairs(redisUrl, namespace)
  const bodies = [queued?.request.body, queued?.baseline.body, queued?.candidate.body, queued?.baselineRepeat?.body]
  t.same(bodies.map(String), ['{"request":1}', '{"baseline":2}', '{"candidate":3}', '{"repeat":4}'])
})

t.test('a batch Redis refused gives its place in the arena back', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const namespace = uniqueNamespace('batcher-refused')
  const { batcher, dropped } = await startBatcher(t, redisUrl, namespace, { maxPendingBytes: 64 * 1024, batchMs: 1 })
  const admin = adminConnection(t, redisUrl)
  const large = (index: number): Pair => makePair('feed', answer(bodyOf(index, 'baseline', 31_000)), answer(bodyOf(index, 'candidate', 31_000)))

  await admin.config('SET', 'maxmemory', '1')
  batcher.add(large(1))
  await batcher.drain(5_000)
  t.same(dropped, ['redis-refused'], 'Redis out of memory refused the batch')
  await admin.config('SET', 'maxmemory', '0')
  // Pairs are refused for a second after Redis refused a write.
  await new Promise((resolve) => setTimeout(resolve, 1_100))

  const next = large(2)
  batcher.add(next)
  await batcher.drain(5_000)
  t.same(dropped, ['redis-refused'], 'the next pair of nearly the whole bound found room')
  t.same((await readQueuedPairs(redisUrl, namespace)).map((pair) => pair.id), [next.id])
})

t.test('Redis refusing writes on and off near its memory limit is warned once, and its end told once it has settled', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const namespace = uniqueNamespace('batcher-flicker')
  let clock = Date.now()
  const { batcher, dropped, lines } = await startBatcher(t, redisUrl, namespace, { batchMs: 1 }, () => clock)
  const admin = adminConnection(t, redisUrl)
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  const writeOne = async (index: number, memory: 'full' | 'free'): Promise<void> => {
    await admin.config('SET', 'maxmemory', memory === 'full' ? '1' : '0')
    batcher.add(makePair('feed', answer(bodyOf(index, 'baseline', 1_000)), answer(bodyOf(index, 'candidate', 1_000))))
    await batcher.drain(5_000)
  }
  const told = (): unknown[] => lines().filter((line) => String(line.msg).startsWith('Redis ')).map((line) => line.level)

  // Refused, taken, refused 5 s later, taken: each step past the second
  // for which pairs are refused after Redis refused a write.
  await writeOne(1, 'full')
  clock += 1_100
  await writeOne(2, 'free')
  clock += 5_000
  await writeOne(3, 'full')
  clock += 1_100
  await writeOne(4, 'free')
  t.same(told(), [40], 'the refusal is warned once, and its end is not told while Redis flickers')
  const warned = lines().find((line) => line.level === 40)
  t.match(warned?.msg, /^Redis refused a batch of pairs \(OOM .*\): nothing is mirrored .*; check Redis's maxmemory/, 'in Redis\'s words, with what to check')
  t.notOk(warned !== undefined && 'err' in warned, 'and without a stack trace')

  clock += calmMs
  await writeOne(5, 'free')
  t.same(told(), [40, 30], 'its end is told once Redis has taken every batch for the calm span')

  clock += 10 * calmMs
  await writeOne(6, 'full')
  t.same(told(), [40, 30, 40], 'a refusal long after that is warned as new')
  t.same(dropped, ['redis-refused', 'redis-refused', 'redis-refused'], 'each refused pair is counted, told or not')
  await admin.config('SET', 'maxmemory', '0')
  t.equal((await readQueuedPairs(redisUrl, namespace)).length, 3, 'the pairs Redis took are queued')
})

t.test('a batch is sealed once it holds 64 MiB, however many pairs it may take', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher-large')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const { batcher, dropped } = await startBatcher(t, redisUrl, namespace, { maxPendingBytes: 96 * 1024 * 1024, batchPairs: 1_000, batchMs: 1_000 })
  const mib = 1024 * 1024
  // 33 pairs of two 1 MiB bodies: the 32nd takes the batch past 64 MiB.
  for (let index = 0; index < 33; index++) {
    batcher.add(makePair('feed', answer(bodyOf(index, 'baseline', mib)), answer(bodyOf(index, 'candidate', mib))))
  }
  await batcher.drain(20_000)

  const keys = createKeys(namespace)
  const admin = adminConnection(t, redisUrl)
  t.same(dropped, [])
  t.equal(await admin.llen(`${keys.queuePrefix}:${keys.pairQueue}:wait`), 2, 'two jobs: 32 pairs, then the last one')
  t.equal((await readQueuedPairs(redisUrl, namespace)).length, 33)
})

t.test('a pair larger than the whole pending bound is dropped for that reason, said once, and mirroring goes on', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher-oversized')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const { batcher, dropped, lines } = await startBatcher(t, redisUrl, namespace, { maxPendingBytes: 64 * 1024, batchMs: 1 })
  const oversized = (index: number): Pair => makePair('feed', answer(bodyOf(index, 'baseline', 40_000)), answer(bodyOf(index, 'candidate', 40_000)))

  batcher.add(oversized(1))
  batcher.add(oversized(2))
  t.same(dropped, ['larger-than-pending-bound', 'larger-than-pending-bound'], 'not blamed on Redis')
  t.equal(batcher.refusal(), undefined, 'mirroring does not stand aside for it')
  const small = makePair('feed', answer(bodyOf(3, 'baseline', 1_000)), answer(bodyOf(3, 'candidate', 1_000)))
  batcher.add(small)
  await batcher.drain(5_000)

  t.same((await readQueuedPairs(redisUrl, namespace)).map((pair) => pair.id), [small.id], 'the next pair that fits is queued')
  const warnings = lines().filter((line) => line.level === 40)
  t.equal(warnings.length, 1, 'said once')
  t.match(warnings[0]?.msg, /larger than shadow\.maxPendingBytes .*raise shadow\.maxPendingBytes/)
})

t.test('with the batch thread sending, the event loop writes no batch, and bodies survive the arena going round', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batcher-thread')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const shadow = configSchema.shape.shadow.parse({ maxPendingBytes: 256 * 1024, batchPairs: 4, batchMs: 1 })
  const { logger } = memoryLogger()
  const refused: string[] = []
  // Every batch must go through the thread: this writer fails any it is given.
  const eventLoopWriter = {
    state: () => 'accepting' as const,
    write: async (batchId: string) => { refused.push(batchId); throw new Error('written from the event loop') }
  }
  const dropped: string[] = []
  let saved = 0
  const events = {
    onEnqueued: () => {},
    onDropped: (_route: string, reason: string) => { dropped.push(reason) },
    onPendingBytes: () => {},
    onBytesSaved: (_route: string, bytes: number) => { saved += bytes }
  }
  const writeTo = { redisUrl, namespace, retentionMs: 60_000, commandTimeoutMs: 5_000 }
  const batcher = new PairBatcher(eventLoopWriter, shadow, events, logger, Date.now, writeTo)
  t.teardown(async () => await batcher.close())
  await batcher.start()

  const sent = new Map<string, Pair>()
  for (let index = 0; index < 120; index++) {
    const baseline = Buffer.from(JSON.stringify({ index, items: Array.from({ length: 120 }, (_, item) => ({ item, name: `item ${item}` })) }))
    const candidate = Buffer.from(baseline.toString().replace('"item 60"', `"item sixty, pair ${index}"`))
    const pair = makePair('feed', answer(baseline), answer(candidate))
    sent.set(pair.id, pair)
    batcher.add(pair)
    await new Promise((resolve) => setImmediate(resolve))
    const giveUpAt = Date.now() + 2_000
    while (batcher.pendingBytes > shadow.maxPendingBytes / 2 && Date.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await batcher.drain(10_000)

  const queued = await readQueuedPairs(redisUrl, namespace)
  t.same(refused, [], 'no batch was written from the event loop')
  t.equal(queued.length + dropped.length, 120, 'every pair was queued or counted as dropped')
  t.ok(queued.length > 60, `${queued.length} pairs queued`)
  t.ok(queued.every((pair) => sent.get(pair.id)?.candidate.body?.equals(pair.candidate.body ?? Buffer.alloc(0)) === true &&
    sent.get(pair.id)?.baseline.body?.equals(pair.baseline.body ?? Buffer.alloc(0)) === true), 'every queued pair has its bodies byte for byte')
  const candidateBytes = queued.reduce((sum, pair) => sum + pair.candidate.bodyBytes, 0)
  t.ok(saved > candidateBytes * 0.7, `the candidates went as deltas: ${saved} of ${candidateBytes} bytes left out`)
})

t.test('pairs the batch thread could not send, its own connection down, are dropped as redis-unreachable even while the gateway\'s connection is up', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  const shadow = configSchema.shape.shadow.parse({ batchMs: 1 })
  const { logger } = memoryLogger()
  const dropped: string[] = []
  const events = { onEnqueued: () => {}, onDropped: (_route: string, reason: string) => { dropped.push(reason) }, onPendingBytes: () => {} }
  const upWriter = { state: () => 'accepting' as const, write: async () => { throw new Error('written from the event loop') } }
  const writeTo = { redisUrl: `redis://127.0.0.1:${port}`, namespace: uniqueNamespace('batcher-thread-down'), retentionMs: 60_000, commandTimeoutMs: 2_000 }
  const batcher = new PairBatcher(upWriter, shadow, events, logger, Date.now, writeTo)
  t.teardown(async () => await batcher.close())
  await batcher.start()

  batcher.add(makePair('feed', answer(bodyOf(1, 'baseline', 3_000)), answer(bodyOf(1, 'candidate', 3_000))))
  await batcher.drain(5_000)
  t.same(dropped, ['redis-unreachable'])
})
