import { gzipSync } from 'node:zlib'
import t from 'tap'
import { compareSchema } from '../../src/config/compare-schema.js'
import { comparePair } from '../../src/diff/compare.js'
import { compileRules } from '../../src/diff/rules.js'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import { describeExample } from '../../src/worker/pair-judge.js'

const rules = compileRules(compareSchema.parse({}))

function answer (body: Buffer, headers: Record<string, string> = {}): CapturedResponse {
  return { status: 200, headers, body, bodyBytes: body.length, latencyMs: 3 }
}

/** The example the worker keeps for a pair of these two answers, as the API serves it. */
function exampleOf (baseline: CapturedResponse, candidate: CapturedResponse): { baseline: Record<string, unknown>, candidate: Record<string, unknown> } {
  const pair: Pair = {
    id: 'r-1',
    route: 'files',
    capturedAt: Date.now(),
    live: 'baseline',
    request: { method: 'GET', path: '/files/1', query: '', headers: {} },
    baseline,
    candidate,
    bodiesIdentical: false
  }
  const verdict = comparePair(baseline, candidate, rules)
  return JSON.parse(describeExample(pair, verdict, rules))
}

t.test('an example keeps bytes that are not text as base64, not as garbled UTF-8', async (t) => {
  const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3])
  const example = exampleOf(answer(bytes), answer(Buffer.from('{"ok":true}')))

  t.match(example.baseline, { body: bytes.toString('base64'), bodyEncoding: 'base64', truncated: false })
  t.ok(Buffer.from(example.baseline.body as string, 'base64').equals(bytes), 'the bytes as they were')
  t.same(example.candidate.body, '{"ok":true}', 'text stays text')
  t.equal(example.candidate.bodyEncoding, undefined)
})

t.test('a compressed answer is judged by what it decodes to: text decoded from gzip is text', async (t) => {
  const example = exampleOf(answer(gzipSync('{"id":1}'), { 'content-encoding': 'gzip' }), answer(Buffer.from('{"id":2}')))
  t.equal(example.baseline.body, '{"id":1}')
  t.equal(example.baseline.bodyEncoding, undefined)
})

t.test('an example body is cut at 64 KiB of text and says so', async (t) => {
  const long = Buffer.from(JSON.stringify({ filler: 'a'.repeat(70_000) }))
  const example = exampleOf(answer(long), answer(Buffer.from('{}')))
  t.equal((example.baseline.body as string).length, 64 * 1024)
  t.equal(example.baseline.truncated, true)
  t.equal(example.candidate.truncated, false)
})

t.test('an example says why a body is not in it', async (t) => {
  const tooLarge: CapturedResponse = { status: 404, headers: {}, bodyBytes: 60_000, tooLarge: true, latencyMs: 3 }
  const withheld: CapturedResponse = { status: 200, headers: {}, bodyBytes: 300, withheld: true, latencyMs: 3 }
  const example = exampleOf(tooLarge, withheld)
  t.match(example.baseline, { body: null, bodyBytes: 60_000, notKept: 'larger than shadow.maxBodyBytes' })
  t.match(example.candidate, { body: null, bodyBytes: 300, notKept: /^withheld/ })
})
