import { createHash } from 'node:crypto'
import t from 'tap'
import { decodeBatchParts, encodeBatchParts, measurePair, PairDecodeError } from '../../src/shadow/pair-codec.js'
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
  t.equal(parts[2], pair.request.body, 'bodies are passed along as they are, not copied')
  const decoded = decodeBatchParts(parts)

  t.equal(decoded.length, 2)
  t.same(decoded[0], pair)
  t.ok(decoded[0]?.baseline.body?.equals(pair.baseline.body as Buffer), 'binary body intact')
  t.same(decoded[1], other)
  t.equal(decoded[1]?.request.body, undefined, 'an absent body stays absent')
  t.equal(decoded[0]?.candidate.body, undefined)
})

t.test('a damaged batch is a clear error, not a crash', async (t) => {
  const parts = encodeBatchParts([pair])
  t.throws(() => decodeBatchParts(parts.slice(0, -1)), PairDecodeError, 'a missing body')
  t.throws(() => decodeBatchParts([...parts, Buffer.from('extra')]), { message: 'batch has 1 parts after its last pair' })
  t.throws(() => decodeBatchParts([Buffer.from('nonsense')]), { name: 'PairDecodeError', message: 'not a batch of pairs' })
  t.throws(() => decodeBatchParts([parts[0] as Buffer, Buffer.from('{broken')]), { message: "part 1 is not a pair's description" })
})

t.test('a pair is measured from its bodies and headers without encoding it', async (t) => {
  const size = measurePair(pair)
  const bodies = 7 + 5 + 0
  t.ok(size > bodies && size < bodies + 1_024, `${size} bytes`)
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
