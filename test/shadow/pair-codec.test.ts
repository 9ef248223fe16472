import { createHash } from 'node:crypto'
import t from 'tap'
import { batchHeader, decodeBatchParts, encodeBatchParts, encodePair, PairDecodeError, writePair } from '../../src/shadow/pair-codec.js'
import type { Pair } from '../../src/shadow/pair.js'
import { BodyCapture } from '../../src/shadow/body-capture.js'

const pair: Pair = {
  id: 'a1',
  route: 'products',
  capturedAt: 1_700_000_000_000,
  live: 'baseline',
  request: { method: 'POST', path: '/products', query: 'x=1', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"a":1}') },
  baseline: { status: 200, headers: { 'content-encoding': 'gzip' }, body: Buffer.from([0x1f, 0x8b, 0, 255, 1]), bodyBytes: 5, latencyMs: 3.5 },
  candidate: { status: 0, headers: {}, bodyBytes: 0, latencyMs: 2000, failure: 'timeout' },
  baselineRepeat: { status: 200, headers: {}, body: Buffer.alloc(0), bodyBytes: 0, latencyMs: 1 },
  bodiesIdentical: false
}

t.test('pairs round-trip through a batch with their bodies as raw bytes', async (t) => {
  const other: Pair = { ...pair, id: 'b2', baselineRepeat: undefined, bodiesIdentical: true, request: { ...pair.request, body: undefined } }
  delete other.baselineRepeat
  delete other.request.body
  const parts = encodeBatchParts([pair, other])
  t.equal(parts.length, 2, 'a header and the records')
  const decoded = decodeBatchParts(parts)

  t.equal(decoded.length, 2)
  t.same(decoded[0], pair)
  t.ok(decoded[0]?.baseline.body?.equals(pair.baseline.body as Buffer), 'binary body intact')
  t.same(decoded[1], other)
  t.equal(decoded[1]?.request.body, undefined, 'an absent body stays absent')
  t.equal(decoded[0]?.candidate.body, undefined)
})

t.test('records split across list elements, as a batch that wraps round the arena is, decode the same', async (t) => {
  const [header, records] = encodeBatchParts([pair, pair]) as [Buffer, Buffer]
  for (const cut of [1, 20, 60, records.length - 1]) {
    const decoded = decodeBatchParts([header, records.subarray(0, cut), records.subarray(cut)])
    t.same(decoded, [pair, pair], `cut at byte ${cut}`)
  }
})

t.test('a damaged batch is a clear error, not a crash', async (t) => {
  const [header, records] = encodeBatchParts([pair]) as [Buffer, Buffer]
  t.throws(() => decodeBatchParts([header, records.subarray(0, -1)]), { name: 'PairDecodeError', message: 'batch cut short in pair 0' })
  t.throws(() => decodeBatchParts([header, records.subarray(0, 10)]), { message: 'batch cut short at pair 0' })
  t.throws(() => decodeBatchParts([header, records, Buffer.from('extra')]), { message: 'batch has 5 bytes after its last pair' })
  t.throws(() => decodeBatchParts([Buffer.from('nonsense')]), { name: 'PairDecodeError', message: 'not a batch of pairs of this version: it starts with "nons", this version writes "SRB4"' })
  t.throws(() => decodeBatchParts([Buffer.from('SRB3')]), { name: 'PairDecodeError', message: 'not a batch of pairs' }, 'a header cut short')
  t.throws(() => decodeBatchParts([batchHeader(1)]), { message: 'batch cut short at pair 0' }, 'a header with no records')

  const broken = Buffer.from(records)
  broken.write('!', 20)
  t.throws(() => decodeBatchParts([header, broken]), { message: 'pair 0 has no readable description' })
})

t.test('a description that is not a pair\'s is refused, whatever JSON it is', async (t) => {
  const encoded = encodePair(pair)
  /** The pair's record with its description replaced. */
  const described = (meta: string): Buffer[] => {
    const metaBytes = Buffer.byteLength(meta)
    const record = Buffer.alloc(encoded.bytes - encoded.metaBytes + metaBytes)
    writePair({ ...encoded, meta, metaBytes, bytes: record.length }, record)
    return [batchHeader(1), record]
  }
  const { baselineRepeat: _repeat, ...withoutRepeat } = JSON.parse(encoded.meta) as Record<string, unknown>
  for (const meta of ['null', '1', '"s"', '[]', '{}', '{"request":null,"baseline":{},"candidate":{}}', '{"request":{},"baseline":{},"candidate":[]}']) {
    t.throws(() => decodeBatchParts(described(meta)), { name: 'PairDecodeError', message: 'pair 0 has a description without its request and both answers' }, meta)
  }
  t.throws(() => decodeBatchParts(described(JSON.stringify(withoutRepeat))), { name: 'PairDecodeError', message: "pair 0 has a baseline repeat's body but no baseline repeat" })
})

t.test('a baseline repeat that failed travels without a body', async (t) => {
  const failedRepeat: Pair = { ...pair, baselineRepeat: { status: 0, headers: {}, bodyBytes: 0, latencyMs: 2, failure: 'timeout' } }
  t.same(decodeBatchParts(encodeBatchParts([failedRepeat])), [failedRepeat])
})

t.test('a record takes exactly the bytes it says, and is written where it is told', async (t) => {
  const encoded = encodePair(pair)
  const bodies = 7 + 5 + 0
  t.equal(encoded.bytes, 20 + Buffer.byteLength(encoded.meta) + bodies, 'five lengths, the description, the bodies')

  const target = Buffer.alloc(encoded.bytes + 4, 0xee)
  writePair(encoded, target.subarray(2))
  t.same([target[0], target[1], target.at(-2), target.at(-1)], [0xee, 0xee, 0xee, 0xee], 'nothing written outside the record')
  t.same(decodeBatchParts([batchHeader(1), target.subarray(2, -2)]), [pair])
})

t.test('a description keeps non-ASCII header values whole', async (t) => {
  const accented: Pair = { ...pair, candidate: { ...pair.candidate, headers: { 'x-city': 'Zürich — 東京' } } }
  t.same(decodeBatchParts(encodeBatchParts([accented])), [accented])
})

t.test('a body over the cap is hashed instead of kept', async (t) => {
  const small = new BodyCapture(10)
  small.add(Buffer.from('hello'))
  small.add(Buffer.from('world'))
  t.same(small.finish(), { body: Buffer.from('helloworld'), bodyBytes: 10 })

  const large = new BodyCapture(10)
  const other = new BodyCapture(10)
  for (const chunk of ['hello', 'world', '!']) large.add(Buffer.from(chunk))
  for (const chunk of ['hel', 'loworld!']) other.add(Buffer.from(chunk))
  const [a, b] = [large.finish(), other.finish()]
  t.equal(a.tooLarge, true)
  t.equal(a.body, undefined)
  t.equal(a.bodyBytes, 11)
  t.equal(a.bodyDigest, b.bodyDigest, 'equal bodies, however chunked, have equal digests')
  t.equal(a.bodyDigest, createHash('sha256').update('helloworld!').digest('hex'), 'the SHA-256 of the whole body')
})
