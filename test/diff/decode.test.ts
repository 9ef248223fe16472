import { createHash } from 'node:crypto'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { compareSchema } from '../../src/config/compare-schema.js'
import { comparePair } from '../../src/diff/compare.js'
import { decodeBody, measureJson, type ResponseSample } from '../../src/diff/decode.js'
import { compileRules } from '../../src/diff/rules.js'
import type { Difference, Verdict } from '../../src/diff/verdict.js'

const rules = compileRules(compareSchema.parse({}))
const limits = { maxDecodedBytes: 8 * 1024 * 1024, maxDepth: 256 }

function answer (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, status = 200): ResponseSample {
  return { status, headers, body: typeof body === 'string' ? Buffer.from(body) : body }
}

function encoded (coding: string, body: Buffer): ResponseSample {
  return answer(body, { 'content-type': 'application/json', 'content-encoding': coding })
}

/** The differences of a verdict that has them; none for the others. */
function differencesOf (verdict: Verdict): Difference[] {
  return 'differences' in verdict ? verdict.differences : []
}

function nested (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

const document = JSON.stringify({ items: [{ id: 1, name: 'mug', price: 4.5 }], next: null })

t.test('gzip, deflate (zlib-wrapped and raw) and br bodies decode to the plain body', async (t) => {
  const plain = Buffer.from(document)
  const bodies = {
    gzip: gzipSync(plain),
    deflate: deflateSync(plain),
    br: brotliCompressSync(plain)
  }
  for (const [coding, body] of Object.entries(bodies)) {
    const decoded = decodeBody(encoded(coding, body), 'baseline', limits)
    t.same(decoded, { ok: true, value: { kind: 'json', value: JSON.parse(document), exactIntegers: false } }, coding)
    t.equal(comparePair(encoded(coding, body), answer(document), rules).kind, 'identical', `${coding} against plain`)
  }

  const raw = decodeBody(encoded('deflate', deflateRawSync(plain)), 'candidate', limits)
  t.same(raw, { ok: true, value: { kind: 'json', value: JSON.parse(document), exactIntegers: false } }, 'raw deflate')
})

t.test('codings listed in order of application are undone in reverse', async (t) => {
  const twice = brotliCompressSync(gzipSync(Buffer.from(document)))
  const decoded = decodeBody(encoded('gzip, br', twice), 'baseline', limits)

  t.same(decoded.ok && decoded.value, { kind: 'json', value: JSON.parse(document), exactIntegers: false })
})

t.test('a gzip bomb stops at the decoded size limit instead of filling memory', async (t) => {
  const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024))
  t.ok(bomb.length < 64 * 1024, `the bomb itself is small (${bomb.length} bytes)`)

  const verdict = comparePair(encoded('gzip', bomb), answer('{}'), rules)
  t.same(verdict, {
    kind: 'not-comparable',
    reason: { side: 'baseline', code: 'too-large', message: 'baseline body is too large after decoding: more than 8388608 bytes' }
  })

  const brotliBomb = brotliCompressSync(Buffer.alloc(9 * 1024 * 1024))
  const candidateVerdict = comparePair(answer('{}'), encoded('br', brotliBomb), rules)
  t.match(candidateVerdict, { kind: 'not-comparable', reason: { side: 'candidate', code: 'too-large' } })
})

t.test('a body that is not what its content-encoding says is classified, not thrown', async (t) => {
  const corrupt = decodeBody(encoded('gzip', Buffer.from('not gzip at all')), 'candidate', limits)
  t.match(corrupt, { ok: false, reason: { side: 'candidate', code: 'bad-encoding', message: /^candidate body is not valid gzip: / } })

  const unknown = decodeBody(encoded('zstd', Buffer.from(document)), 'baseline', limits)
  t.same(unknown, {
    ok: false,
    reason: { side: 'baseline', code: 'unsupported-encoding', message: 'baseline body has an unsupported content-encoding: zstd' }
  })
})

t.test('malformed JSON is not comparable, with the side and the parser\'s reason', async (t) => {
  const baselineBroken = comparePair(answer('{"items": [1, 2'), answer(document), rules)
  t.match(baselineBroken, { kind: 'not-comparable', reason: { side: 'baseline', code: 'not-json', message: /^baseline body is not JSON: / } })

  const candidateBroken = comparePair(answer(document), answer('{"items": }'), rules)
  t.match(candidateBroken, { kind: 'not-comparable', reason: { side: 'candidate', code: 'not-json', message: /^candidate body is not JSON: / } })
})

t.test('a JSON content type over bytes that are not UTF-8 is not comparable', async (t) => {
  const invalid = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])
  const verdict = comparePair(answer(document), answer(invalid), rules)

  t.same(verdict, {
    kind: 'not-comparable',
    reason: { side: 'candidate', code: 'not-utf8', message: 'candidate body is not valid UTF-8' }
  })
})

t.test('10,000 levels of nesting are refused with the limit, without overflowing the stack', async (t) => {
  const deep = comparePair(answer(nested(10_000)), answer('[]'), rules)
  t.same(deep, {
    kind: 'not-comparable',
    reason: { side: 'baseline', code: 'too-deep', message: 'baseline body is nested too deep: more than 256 levels' }
  })

  const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)
  t.match(comparePair(answer('{}'), answer(deepObject), rules), { kind: 'not-comparable', reason: { side: 'candidate', code: 'too-deep' } })
})

t.test('the depth limit counts levels of arrays and objects: 256 pass, 257 do not', async (t) => {
  t.same(measureJson(JSON.parse(nested(256)), 256), { tooDeep: false, hasInexactNumbers: false })
  t.same(measureJson(JSON.parse(nested(257)), 256), { tooDeep: true, hasInexactNumbers: false })
  t.same(measureJson(JSON.parse('1'), 0), { tooDeep: false, hasInexactNumbers: false }, 'a bare value has no depth')

  const atLimit = comparePair(answer(nested(256)), answer(nested(255)), rules)
  t.equal(atLimit.kind, 'diverging', '256 levels are compared')
})

t.test('the deepest nesting allowed (1,000 levels) is compared, under any rule, without overflowing', async (t) => {
  const document = (id: string): ResponseSample => answer('['.repeat(999) + `{"id":${id},"n":1}` + ']'.repeat(999))
  const baseline = document('9007199254740993')
  const candidate = document('9007199254740995')

  const plain = compileRules(compareSchema.parse({ maxDepth: 1_000 }))
  t.same(differencesOf(comparePair(baseline, candidate, plain)), [{
    path: '[*]'.repeat(999) + '.id',
    kind: 'changed',
    at: '[0]'.repeat(999) + '.id',
    baseline: '9007199254740993',
    candidate: '9007199254740995',
    count: 1
  }])

  const everyRule = compileRules(compareSchema.parse({
    maxDepth: 1_000,
    unorderedArrays: ['**'],
    ignorePaths: ['**.skipped'],
    numericTolerance: [{ path: '**.n', absolute: 1 }]
  }))
  const unordered = differencesOf(comparePair(baseline, candidate, everyRule))
  t.same(unordered.map((difference) => `${difference.kind} ${difference.path}`), ['only-in-baseline [*]', 'only-in-candidate [*]'],
    'every array is unordered, so the outermost elements no longer match')
  t.match(JSON.stringify(unordered[0]?.baseline), /\{"id":"9007199254740993","n":1\}/)
})

t.test('a 50 MB array is refused by size before it is parsed', async (t) => {
  const size = 50_000_001
  const huge = Buffer.alloc(size, ',0')
  huge[0] = 0x5b
  huge[size - 1] = 0x5d
  const verdict = comparePair(answer('[]'), answer(huge), rules)

  t.same(verdict, {
    kind: 'not-comparable',
    reason: { side: 'candidate', code: 'too-large', message: 'candidate body is too large: 50000001 bytes, more than 8388608' }
  })
})

t.test('the size limit is configurable and inclusive', async (t) => {
  const small = compileRules(compareSchema.parse({ maxDecodedBytes: 10 }))

  t.equal(comparePair(answer('[1,2,3,40]'), answer('[1,2,3,40]'), small).kind, 'identical', '10 bytes pass')
  t.match(comparePair(answer('[1,2,3,400]'), answer('[1]'), small), { kind: 'not-comparable', reason: { code: 'too-large' } })
})

t.test('a body of null is a JSON value, compared like any other', async (t) => {
  t.same(decodeBody(answer('null'), 'baseline', limits), { ok: true, value: { kind: 'json', value: null, exactIntegers: false } })
  t.equal(comparePair(answer('null'), answer(' null\n'), rules).kind, 'identical')
  const verdict = comparePair(answer('null'), answer('{}'), rules)
  t.equal(verdict.kind, 'diverging')
  t.same(differencesOf(verdict), [{ path: '', kind: 'type-changed', at: '', baseline: null, candidate: {}, count: 1 }])
})

t.test('an empty body with a JSON content type is not comparable; without one it is just bytes', async (t) => {
  t.same(comparePair(answer(''), answer(document), rules), {
    kind: 'not-comparable',
    reason: { side: 'baseline', code: 'empty-body', message: 'baseline body is empty' }
  })

  const noContent = answer('', {}, 204)
  t.equal(comparePair(noContent, answer('', {}, 204), rules).kind, 'identical')
})

t.test('bodies that are not JSON compare by SHA-256 and content type', async (t) => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00])
  const other = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xfe, 0x00])
  const image = (body: Buffer, contentType = 'image/png'): ResponseSample => answer(body, { 'content-type': contentType })
  const sha = (body: Buffer): string => createHash('sha256').update(body).digest('hex')

  t.same(decodeBody(image(png), 'baseline', limits), {
    ok: true,
    value: { kind: 'bytes', contentType: 'image/png', sha256: sha(png), bytes: png.length }
  })
  t.equal(comparePair(image(png), image(Buffer.from(png)), rules).kind, 'identical')
  t.same(differencesOf(comparePair(image(png), image(other), rules)), [{
    path: '',
    kind: 'changed',
    at: '',
    baseline: { contentType: 'image/png', sha256: sha(png), bytes: 10 },
    candidate: { contentType: 'image/png', sha256: sha(other), bytes: 10 },
    count: 1
  }])
  t.same(differencesOf(comparePair(image(png), image(png, 'image/webp'), rules)), [{
    path: '',
    kind: 'changed',
    at: '',
    baseline: { contentType: 'image/png', sha256: sha(png), bytes: 10 },
    candidate: { contentType: 'image/webp', sha256: sha(png), bytes: 10 },
    count: 1
  }], 'same bytes, other content type')
})

t.test('text that parses as JSON is JSON whatever its content type; other text is bytes', async (t) => {
  const plainText = (body: string): ResponseSample => answer(body, { 'content-type': 'text/plain; charset=utf-8' })

  t.equal(comparePair(plainText('{"a":1,"b":2}'), answer('{"b":2,"a":1.0}'), rules).kind, 'identical')
  const hello = Buffer.from('hello')
  t.same(differencesOf(comparePair(plainText('hello'), answer('{"a":1}'), rules)), [{
    path: '',
    kind: 'type-changed',
    at: '',
    baseline: { contentType: 'text/plain;charset=utf-8', sha256: createHash('sha256').update(hello).digest('hex'), bytes: 5 },
    candidate: { a: 1 },
    count: 1
  }])
  t.match(decodeBody(answer('{}', { 'content-type': 'application/problem+json' }), 'baseline', limits), { ok: true, value: { kind: 'json' } })
})

t.test('1, 1.0 and 1e0 are the same number', async (t) => {
  const verdict = comparePair(answer('{"n":1,"m":[1,2]}'), answer('{"n":1.0,"m":[1e0,20e-1]}'), rules)
  t.equal(verdict.kind, 'identical')
  t.equal(comparePair(answer('{"n":1}'), answer('{"n":1.5}'), rules).kind, 'diverging', 'a different number still differs')
})

t.test('integers beyond 2^53 compare exactly', async (t) => {
  const id = (digits: string): ResponseSample => answer(`{"id":${digits},"small":7}`)

  t.same(differencesOf(comparePair(id('9007199254740993'), id('9007199254740994'), rules)), [
    { path: 'id', kind: 'changed', at: 'id', baseline: '9007199254740993', candidate: '9007199254740994', count: 1 }
  ], '2^53+1 and 2^53+2 differ, though JSON.parse reads both as 2^53+2')
  t.equal(comparePair(id('9007199254740993'), id('9007199254740993'), rules).kind, 'identical')
  t.equal(comparePair(id('9007199254740993'), id('9.007199254740993e15'), rules).kind, 'identical', 'an exponent form of the same integer')
  t.equal(comparePair(id('-123456789012345678901234567890'), id('-123456789012345678901234567890.0'), rules).kind, 'identical')
  t.equal(comparePair(answer(' {"id":123456789012345678901234567890,"x":1} '), id('123456789012345678901234567891'), rules).kind, 'diverging')
})

t.test('a backend that gave no answer, or whose body was not kept, is not comparable', async (t) => {
  const failed: ResponseSample = { status: 0, headers: {}, failure: 'timeout' }
  t.same(comparePair(answer(document), failed, rules), {
    kind: 'not-comparable',
    reason: { side: 'candidate', code: 'no-answer', message: 'candidate gave no answer: timeout' }
  })

  const notKept: ResponseSample = { status: 200, headers: {}, bodyBytes: 30_000_000 }
  t.match(comparePair(notKept, answer(document), rules), { kind: 'not-comparable', reason: { side: 'baseline', code: 'too-large' } })
})

t.test('a body too large to keep still leaves the statuses to compare: 200 against a large 404 page diverges', async (t) => {
  const largeErrorPage: ResponseSample = { status: 404, headers: { 'content-type': 'text/html' }, bodyBytes: 60_000 }
  const largeAnswer: ResponseSample = { status: 200, headers: {}, bodyBytes: 60_000 }
  t.match(comparePair(answer(document), largeErrorPage, rules), {
    kind: 'status-mismatch', baselineStatus: 200, candidateStatus: 404, bodyNotComparable: { side: 'candidate', code: 'too-large' }
  })
  t.match(comparePair(largeAnswer, largeErrorPage, rules), {
    kind: 'status-mismatch', baselineStatus: 200, candidateStatus: 404, bodyNotComparable: { side: 'baseline', code: 'too-large' }
  }, 'both too large')
  t.match(comparePair(largeAnswer, { ...largeErrorPage, status: 200 }, rules), { kind: 'not-comparable', reason: { code: 'too-large' } },
    'with equal statuses there is still nothing to compare')
})
