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
  t.throws(() => decodeBatchParts([Buffer.from('nonsense')]), { name: 'PairDecodeError', message: 'not a batch of pairs of this version: it starts with "nons", this version writes "SRB5"' })
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

/** A product feed of about 20 KB, with some of its titles changed. */
function feedBody (retitled: Record<number, string> = {}): Buffer {
  const items = Array.from({ length: 200 }, (_, id) => ({
    id,
    title: retitled[id] ?? `product ${id}`,
    priceCents: 1_000 + ((id * 37) % 9_000),
    tags: ['home', id % 2 === 0 ? 'garden' : 'kitchen'],
    stock: (id * 13) % 50
  }))
  return Buffer.from(JSON.stringify({ items }))
}

function answerWith (body: Buffer | undefined): Pair['baseline'] {
  const headers = { 'content-type': 'application/json' }
  return { status: 200, headers, ...(body === undefined ? {} : { body }), bodyBytes: body?.length ?? 0, latencyMs: 4 }
}

/** Sets the top bit of the body length at `at`, as a record whose body is a delta has it. */
function markAsDelta (records: Buffer, at: number): void {
  records.writeUInt32BE((records.readUInt32BE(at) | 0x8000_0000) >>> 0, at)
}

const baselineFeed = feedBody()
const candidateFeed = feedBody({ 10: 'product 10, back in stock', 100: 'p100', 190: 'product one hundred and ninety' })

/** Where a record's baseline body starts: after its five lengths, its description and the request body. */
function baselineBodyAt (encoded: ReturnType<typeof encodePair>): number {
  return 20 + encoded.metaBytes + (pair.request.body?.length ?? 0)
}

t.test('a candidate body that differs from the baseline\'s in a few places travels as its delta and decodes whole', async (t) => {
  const differing: Pair = { ...pair, baseline: answerWith(baselineFeed), candidate: answerWith(candidateFeed) }
  const [header, records] = encodeBatchParts([differing, pair]) as [Buffer, Buffer]
  t.equal(records.readUInt32BE(12) >>> 31, 1, 'the candidate body\'s length is marked as a delta')

  const decoded = decodeBatchParts([header, records])
  t.same(decoded, [differing, pair])
  t.ok(decoded[0]?.candidate.body?.equals(candidateFeed), 'the candidate body byte for byte')
  t.ok(decoded[0]?.baseline.body?.equals(baselineFeed), 'the baseline body byte for byte')

  const stored = encodeBatchParts([differing])[1]?.length as number
  const whole = encodePair(differing).bytes
  t.ok(stored < whole - candidateFeed.length * 0.9, `${stored} bytes, not ${whole}`)
})

t.test('a compressed body is not looked at for a delta: it goes whole', async (t) => {
  // Bytes that would make a fine delta, labelled as gzip: the label decides.
  const gzipped = (body: Buffer): Pair['baseline'] => {
    const answer = answerWith(body)
    return { ...answer, headers: { ...answer.headers, 'content-encoding': 'gzip' } }
  }
  for (const [name, baseline, candidate] of [
    ['the candidate compressed', answerWith(baselineFeed), gzipped(candidateFeed)],
    ['the baseline compressed', gzipped(baselineFeed), answerWith(candidateFeed)]
  ] as const) {
    const labelled: Pair = { ...pair, baseline, candidate }
    const [header, records] = encodeBatchParts([labelled]) as [Buffer, Buffer]
    t.equal(records.readUInt32BE(12), candidateFeed.length, `${name}: the candidate body stored whole`)
    t.same(decodeBatchParts([header, records]), [labelled], `${name}: and read back`)
  }
  const identity: Pair = { ...pair, baseline: answerWith(baselineFeed), candidate: { ...answerWith(candidateFeed), headers: { 'content-encoding': 'identity' } } }
  t.equal(encodeBatchParts([identity])[1]?.readUInt32BE(12) as number >>> 31, 1, 'content-encoding: identity is not compressed')
})
t.test('a baseline repeat body that differs from the baseline\'s in a few places travels as its delta and decodes whole', async (t) => {
  const repeatFeed = feedBody({ 3: 'product 3 (2 left)' })
  const repeated: Pair = { ...pair, baseline: answerWith(baselineFeed), baselineRepeat: answerWith(repeatFeed) }
  const [header, records] = encodeBatchParts([repeated]) as [Buffer, Buffer]
  t.equal(records.readUInt32BE(16) >>> 31, 1, 'the repeat body\'s length is marked as a delta')

  const decoded = decodeBatchParts([header, records])
  t.same(decoded, [repeated])
  t.ok(decoded[0]?.baselineRepeat?.body?.equals(repeatFeed), 'the repeat body byte for byte')
  t.equal(decoded[0]?.candidate.body, undefined, 'the candidate that failed still has no body')

  const stored = encodeBatchParts([repeated])[1]?.length as number
  const whole = encodePair(repeated).bytes
  t.ok(stored < whole - repeatFeed.length * 0.9, `${stored} bytes, not ${whole}`)
})

t.test('a record is written with its bodies whole, in exactly the bytes it says', async (t) => {
  const differing: Pair = { ...pair, baseline: answerWith(baselineFeed), candidate: answerWith(candidateFeed) }
  const encoded = encodePair(differing)
  t.equal(encoded.deltaSlots, 1 << 2, 'the candidate body may go as a delta')
  const target = Buffer.alloc(encoded.bytes + 4, 0xee)
  writePair(encoded, target.subarray(2))

  t.same([target[0], target[1], target.at(-2), target.at(-1)], [0xee, 0xee, 0xee, 0xee], 'nothing written outside the record')
  t.equal(target.readUInt32BE(2 + 12), candidateFeed.length, 'the candidate body whole')
  t.same(decodeBatchParts([batchHeader(1), target.subarray(2, -2)]), [differing])
})

t.test('which bodies may go as deltas: only answers after the baseline\'s, of 2 KB or more, uncompressed, with a baseline body', async (t) => {
  const big = answerWith(candidateFeed)
  const cases: Array<[string, Pair, number]> = [
    ['candidate and repeat', { ...pair, baseline: answerWith(baselineFeed), candidate: big, baselineRepeat: big }, (1 << 2) | (1 << 3)],
    ['no baseline body', { ...pair, baseline: answerWith(undefined), candidate: big }, 0],
    ['a small candidate', { ...pair, baseline: answerWith(baselineFeed), candidate: answerWith(Buffer.from('{}')) }, 0],
    ['a small baseline', { ...pair, baseline: answerWith(Buffer.from('{}')), candidate: big }, 0],
    ['a compressed baseline', { ...pair, baseline: { ...answerWith(baselineFeed), headers: { 'content-encoding': ' GZIP ' } }, candidate: big }, 0]
  ]
  for (const [name, described, slots] of cases) t.equal(encodePair(described).deltaSlots, slots, name)
})

t.test('a body marked as a delta in a pair without a baseline body is refused, naming the pair', async (t) => {
  const candidateOnly: Pair = { ...pair, baseline: answerWith(undefined), candidate: answerWith(Buffer.from('a body of its own')) }
  const [header, records] = encodeBatchParts([pair, candidateOnly]) as [Buffer, Buffer]
  const second = encodePair(pair).bytes
  markAsDelta(records, second + 12)

  const message = 'pair 1 stores its candidate body as a delta from a baseline body it does not have'
  t.throws(() => decodeBatchParts([header, records]), { name: 'PairDecodeError', message })
})

t.test('a request body marked as a delta is refused: only the answers after the baseline\'s are stored so', async (t) => {
  const [header, records] = encodeBatchParts([pair]) as [Buffer, Buffer]
  markAsDelta(records, 4)

  t.throws(() => decodeBatchParts([header, records]), {
    name: 'PairDecodeError', message: 'pair 0 marks its request body as a delta, which only a candidate or repeat body can be'
  })
})

t.test('a damaged delta is a PairDecodeError naming the pair and the body', async (t) => {
  const differing: Pair = { ...pair, baseline: answerWith(baselineFeed), candidate: answerWith(candidateFeed) }
  const [header, records] = encodeBatchParts([pair, differing]) as [Buffer, Buffer]
  const encoded = encodePair(differing)
  // The delta starts with the body's length, then its first operation.
  const delta = encodePair(pair).bytes + baselineBodyAt(encoded) + baselineFeed.length
  t.equal(records.readUInt32BE(delta), candidateFeed.length, 'the delta starts with the body\'s length')
  t.equal(records.readUInt32BE(delta + 4) >>> 31, 1, 'then a copy')
  records.writeUInt32BE(baselineFeed.length, delta + 8)

  const message = /^pair 1 has a damaged candidate body: delta copies bytes \d+.\d+ of a \d+-byte reference$/
  t.throws(() => decodeBatchParts([header, records]), { name: 'PairDecodeError', message })
})

t.test('a batch written before deltas, marked SRB4, still decodes', async (t) => {
  const whole: Pair = { ...pair, candidate: answerWith(Buffer.from('{"items":[]}')) }
  const [header, records] = encodeBatchParts([pair, whole]) as [Buffer, Buffer]
  t.equal(header.toString('latin1', 0, 4), 'SRB5', 'this version writes SRB5')
  const earlier = Buffer.from(header)
  earlier.write('SRB4', 0, 'latin1')

  t.same(decodeBatchParts([earlier, records]), [pair, whole])
  earlier.write('SRB3', 0, 'latin1')
  t.throws(() => decodeBatchParts([earlier, records]), { name: 'PairDecodeError', message: /it starts with "SRB3"/ }, 'an earlier mark still is not')
})
