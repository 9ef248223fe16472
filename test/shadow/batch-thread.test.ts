import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { BatchThread, type RecordPlace } from '../../src/shadow/batch-thread.js'
import { PairArena } from '../../src/shadow/pair-arena.js'
import { batchHeader, decodeBatchParts, encodePair, writePair } from '../../src/shadow/pair-codec.js'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import { shrinkRecord } from '../../src/shadow/record-deltas.js'
import { memoryLogger } from '../helpers/gateway.js'
import { makePair } from '../helpers/pair-factory.js'
import { readQueuedPairs } from '../helpers/pairs.js'
import { adminConnection, dropNamespace, privateRedis, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

/** A JSON page of `items` products; `changes` replaces some products' names. */
function page (items: number, changes: Record<number, string> = {}): Buffer {
  const products = Array.from({ length: items }, (_, index) => ({ id: index, name: changes[index] ?? `product ${index}`, price: 100 + index }))
  return Buffer.from(JSON.stringify({ products }))
}

function answer (body: Buffer): CapturedResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body, bodyBytes: body.length, latencyMs: 2 }
}

/**
 * Pairs written into an arena as the batcher writes them; returns the
 * record views, their places for `find` and for `write`.
 */
function writeRecords (arena: PairArena, pairs: Pair[]): { records: Buffer[], places: number[], writePlaces: RecordPlace[] } {
  const records: Buffer[] = []
  const places: number[] = []
  const writePlaces: RecordPlace[] = []
  for (const pair of pairs) {
    const encoded = encodePair(pair)
    const span = arena.take(encoded.bytes)
    if (span === undefined) throw new Error('arena full')
    writePair(encoded, span.view)
    records.push(span.view)
    places.push(span.view.byteOffset, encoded.deltaSlots)
    writePlaces.push({ offset: span.view.byteOffset, bytes: encoded.bytes, slots: encoded.deltaSlots })
  }
  return { records, places, writePlaces }
}

function writeTo (redisUrl: string, namespace: string): { redisUrl: string, namespace: string, retentionMs: number, commandTimeoutMs: number } {
  return { redisUrl, namespace, retentionMs: 60_000, commandTimeoutMs: 2_000 }
}

const baselinePage = page(200)
const pairs = [
  makePair('shop', answer(baselinePage), answer(page(200, { 7: 'product seven, renamed' }))),
  makePair('shop', answer(Buffer.from('{"small":true}')), answer(Buffer.from('{"small":false}'))),
  makePair('shop', answer(baselinePage), answer(page(200, { 150: 'p150' })))
]

t.test('the thread finds the deltas of records in the shared arena, and the batch reads back whole', async (t) => {
  const arena = new PairArena(1024 * 1024)
  const { logger, lines } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared }, logger)
  t.teardown(async () => await thread.close())
  const { records, places } = writeRecords(arena, pairs)
  const whole = records.reduce((sum, record) => sum + record.length, 0)

  const answer = await thread.find(places)
  t.ok(answer, 'the thread answered')
  if (answer === undefined) return
  const shrunk = records.map((record, index) => shrinkRecord(record, answer, index))
  const sent = shrunk.flatMap((record) => record.parts)
  const bytes = sent.reduce((sum, part) => sum + part.length, 0)

  t.same(decodeBatchParts([batchHeader(pairs.length), ...sent]), pairs, 'every pair reads back with its bodies byte for byte')
  t.same(shrunk.map((record) => record.saved > baselinePage.length * 0.9), [true, false, true], 'the two differing pages went as deltas, the small pair whole')
  t.ok(bytes < whole - 1.8 * baselinePage.length, `${bytes} bytes sent for ${whole} written`)
  t.equal(lines().length, 0, 'nothing logged')
})

t.test('a thread given a Redis sends a batch itself, its differing answers as deltas, and it reads back whole', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('batch-thread')
  t.teardown(async () => await dropNamespace(redisUrl, namespace))
  const arena = new PairArena(1024 * 1024)
  const { logger, lines } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared, writeTo: writeTo(redisUrl, namespace) }, logger)
  t.teardown(async () => await thread.close())

  t.equal(thread.writes, false, 'not before it is up')
  t.equal(await thread.start(), true, 'it starts and connects')
  t.equal(thread.writes, true, 'then it takes batches')
  const { writePlaces } = writeRecords(arena, pairs)
  const written = await thread.write('batch-1', writePlaces)

  t.same(written?.saved.map((saved) => saved > baselinePage.length * 0.9), [true, false, true], 'the bytes each record left out')
  t.same(await readQueuedPairs(redisUrl, namespace), pairs, 'every pair read back from Redis byte for byte')
  t.equal(lines().length, 0, 'nothing logged')
})

t.test('a batch Redis refuses from the thread rejects with Redis\'s own error, and a thread without a Redis only finds deltas', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const namespace = uniqueNamespace('batch-thread-refused')
  const admin = adminConnection(t, redisUrl)
  const arena = new PairArena(1024 * 1024)
  const { logger } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared, writeTo: writeTo(redisUrl, namespace) }, logger)
  t.teardown(async () => await thread.close())
  await thread.start()
  const { writePlaces } = writeRecords(arena, pairs)

  await admin.config('SET', 'maxmemory', '1')
  await t.rejects(thread.write('batch-refused', writePlaces), { name: 'ReplyError', message: /OOM/ })
  await admin.config('SET', 'maxmemory', '0')

  const finder = new BatchThread({ arena: arena.shared }, logger)
  t.teardown(async () => await finder.close())
  t.equal(await finder.start(), true)
  t.equal(finder.writes, false, 'no Redis: the event loop sends its batches')
})

t.test('a batch the thread cannot send for its own connection being down is told apart from a slow Redis', async (t) => {
  const arena = new PairArena(1024 * 1024)
  const { logger } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared, writeTo: writeTo(`redis://127.0.0.1:${await closedPort()}`, uniqueNamespace('batch-thread-down')) }, logger)
  t.teardown(async () => await thread.close())
  t.equal(await thread.start(), true, 'up, though its Redis does not answer')
  const { writePlaces } = writeRecords(arena, pairs)

  await t.rejects(thread.write('batch-down', writePlaces), { name: 'ThreadConnectionError' })
})

t.test('a thread that cannot start: batches go whole, said once', async (t) => {
  const arena = new PairArena(64 * 1024)
  const { logger, lines } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared }, logger, { entry: new URL('./workers/no-such-worker.js', import.meta.url) })
  const { places } = writeRecords(arena, pairs)

  t.equal(await thread.find(places), undefined, 'no answer: the batch goes whole')
  t.equal(await thread.find(places), undefined, 'nor for the next batch')
  const warnings = lines().filter((line) => line.level === 40)
  t.equal(warnings.length, 1, 'said once')
  t.match(warnings[0]?.msg, /the event loop sends them from now on, with both bodies whole .*nothing is lost/)
})

t.test('a thread that exits at a batch: that batch and the next go whole, said once', async (t) => {
  const arena = new PairArena(64 * 1024)
  const { logger, lines } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared }, logger, { entry: new URL(`./workers/exits-on-first-batch${extension()}`, import.meta.url) })
  const { places } = writeRecords(arena, pairs)

  t.equal(await thread.find(places), undefined, 'the batch it was given goes whole')
  t.equal(await thread.find(places), undefined, 'so does the next: the thread is not started again')
  t.equal(lines().filter((line) => line.level === 40).length, 1, 'said once')
})

t.test('a thread that does not answer in time: the batch goes whole, and closing settles what waits', async (t) => {
  const arena = new PairArena(64 * 1024)
  const { logger } = memoryLogger()
  const thread = new BatchThread({ arena: arena.shared }, logger, { entry: new URL(`./workers/never-answers${extension()}`, import.meta.url), answerWithinMs: 50 })
  const { places } = writeRecords(arena, pairs)

  // The first batch may wait for the thread to load; once it has, 50 ms.
  t.equal(await thread.find(places), undefined, 'unanswered: whole')
  const started = Date.now()
  t.equal(await thread.find(places), undefined, 'unanswered again: whole')
  t.ok(Date.now() - started < 2_000, 'without waiting for the start-up allowance')

  const waiting = thread.find(places)
  await thread.close()
  t.equal(await waiting, undefined, 'a batch waiting when the thread closes goes whole')
})

/** A port on 127.0.0.1 that nothing listens on: connections to it are refused. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The test workers' extension: .ts from source. */
function extension (): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js'
}
