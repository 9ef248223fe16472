import t from 'tap'
import { compareSchema } from '../../src/config/compare-schema.js'
import { comparePair, compareWithEqualBodies } from '../../src/diff/compare.js'
import type { ResponseSample } from '../../src/diff/decode.js'
import { compileRules, type CompiledRules } from '../../src/diff/rules.js'
import type { Verdict } from '../../src/diff/verdict.js'

function rulesFrom (section: Record<string, unknown> = {}): CompiledRules {
  return compileRules(compareSchema.parse(section))
}

function answer (value: unknown, status = 200, headers: Record<string, string> = {}): ResponseSample {
  const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

  return { status, headers: { 'content-type': 'application/json', ...headers }, body }
}

function compare (baseline: unknown, candidate: unknown, section: Record<string, unknown> = {}): Verdict {
  return comparePair(answer(baseline), answer(candidate), rulesFrom(section))
}

/** Each listed difference as "kind path", sorted: the order found is deep-diff's business. */
function listed (verdict: Verdict, list: 'differences' | 'ignored' | 'noise' = 'differences'): string[] {
  const differences = 'differences' in verdict ? verdict[list] : []

  return differences.map((difference) => `${difference.kind} ${difference.path}`).sort()
}

t.test('equal bodies are identical whatever their key order or number spelling', async (t) => {
  t.same(compare('{"a":1,"b":[true,null,"x"]}', '{"b":[true,null,"x"],"a":1.0}'), { kind: 'identical' })
})

t.test('a changed field is reported with its collapsed path, real path and both values', async (t) => {
  const verdict = compare({ items: [{ price: 1 }, { price: 2 }, { price: 3 }] }, { items: [{ price: 1 }, { price: 5 }, { price: 7 }] })

  t.equal(verdict.kind, 'diverging')
  t.same('differences' in verdict && verdict.differences, [
    { path: 'items[*].price', kind: 'changed', at: 'items[2].price', baseline: 3, candidate: 7, count: 2 }
  ], 'two elements differ at one collapsed path')
})

t.test('null against an object is a type change, at the root and nested, both ways', async (t) => {
  t.same(listed(compare(null, { a: 1 })), ['type-changed '])
  t.same(listed(compare({ a: 1 }, null)), ['type-changed '])
  t.same(listed(compare({ x: null }, { x: { a: 1 } })), ['type-changed x'])
  t.same(listed(compare({ x: [{ y: { a: 1 } }] }, { x: [{ y: null }] })), ['type-changed x[*].y'])
  t.same(listed(compare([], {})), ['type-changed '], 'an array against an object too')
})

t.test('null, missing and empty are three different states by default', async (t) => {
  t.same(listed(compare({ a: null }, {})), ['null-vs-missing a'])
  t.same(listed(compare({}, { a: null })), ['null-vs-missing a'])
  t.same(listed(compare({ a: null }, { a: '' })), ['type-changed a'])
  t.same(listed(compare({ a: null }, { a: [] })), ['type-changed a'])
  t.same(listed(compare({ a: [] }, {})), ['only-in-baseline a'])
  t.same(listed(compare({}, { a: {} })), ['only-in-candidate a'])
  t.same(listed(compare({ a: '' }, { a: [] })), ['type-changed a'])
})

t.test('nullEqualsMissing lets null equal absent, reports it as ignored, and leaves empty alone', async (t) => {
  const rule = { nullEqualsMissing: true }
  const verdict = compare({ a: null, b: 1 }, { b: 1 }, rule)

  t.equal(verdict.kind, 'noise-only', 'an explained difference is not a match')
  t.same('ignored' in verdict && verdict.ignored, [
    { path: 'a', kind: 'null-vs-missing', at: 'a', baseline: null, count: 1, rule: 'nullEqualsMissing' }
  ])
  t.same(listed(compare({ a: '' }, {}, rule)), ['only-in-baseline a'])
  t.same(listed(compare({ a: null }, { a: [] }, rule)), ['type-changed a'])
  t.same(listed(compare({ a: null }, { a: 0 }, rule)), ['type-changed a'], 'null against a value still differs')
})

t.test('a status mismatch is a divergence even over equal bodies', async (t) => {
  const rules = rulesFrom()
  const verdict = comparePair(answer({ id: 1 }, 200), answer({ id: 1 }, 404), rules)
  t.same(verdict, {
    kind: 'status-mismatch',
    baselineStatus: 200,
    candidateStatus: 404,
    differences: [],
    ignored: [],
    noise: [],
    omitted: { differences: 0, ignored: 0 }
  })

  const withBody = comparePair(answer({ id: 1 }, 200), answer({ error: 'gone' }, 404), rules)
  t.equal(withBody.kind, 'status-mismatch')
  t.same(listed(withBody), ['only-in-baseline id', 'only-in-candidate error'], 'the body differences come along')

  const errorPage = comparePair(answer({ id: 1 }, 200), answer('<html>oops</html>', 502), rules)
  t.match(errorPage, { kind: 'status-mismatch', bodyNotComparable: { side: 'candidate', code: 'not-json' } })
})

t.test('ignorePaths: an exact path, [*] for any index, * for one key, ** for any depth', async (t) => {
  const baseline = { data: { items: [{ id: 1, traceId: 'a' }], meta: { timestamp: 1 } }, timestamp: 1, other: { x: 1 } }
  const candidate = { data: { items: [{ id: 1, traceId: 'b' }], meta: { timestamp: 2 } }, timestamp: 2, other: { x: 2 } }

  const rules = { ignorePaths: ['data.items[*].traceId', '**.timestamp', '*.x'] }
  const verdict = compare(baseline, candidate, rules)
  t.equal(verdict.kind, 'noise-only')
  t.same(listed(verdict, 'ignored'), [
    'changed data.items[*].traceId', 'changed data.meta.timestamp', 'changed other.x', 'changed timestamp'
  ])
  const patterns = 'ignored' in verdict ? verdict.ignored.map((difference) => `${difference.path} by ${difference.pattern}`) : []
  t.same(patterns.sort(), [
    'data.items[*].traceId by data.items[*].traceId',
    'data.meta.timestamp by **.timestamp',
    'other.x by *.x',
    'timestamp by **.timestamp'
  ], 'each names the pattern that matched')

  t.same(listed(compare(baseline, candidate, { ignorePaths: ['data.items[*].traceId'] })),
    ['changed data.meta.timestamp', 'changed other.x', 'changed timestamp'], 'other paths still count')
})

t.test('an ignored path takes everything below it, and nothing beside it', async (t) => {
  const verdict = compare({ debug: { a: [1], b: 1 }, debugInfo: 1 }, { debug: { a: [2, 3] }, debugInfo: 2 }, { ignorePaths: ['debug'] })

  t.same(listed(verdict, 'ignored'), ['changed debug.a[*]', 'only-in-baseline debug.b', 'only-in-candidate debug.a[*]'])
  t.same(listed(verdict), ['changed debugInfo'])
})

t.test('wildcards stay in their lane: * is one key, [*] is one index', async (t) => {
  t.same(listed(compare({ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, { ignorePaths: ['*.c'] })), ['changed a.b.c'])
  t.same(listed(compare({ a: [1] }, { a: [2] }, { ignorePaths: ['a.*'] })), ['changed a[*]'])
  t.same(listed(compare({ a: { b: 1 } }, { a: { b: 2 } }, { ignorePaths: ['a[*]'] })), ['changed a.b'])
})

t.test('arrays are compared in order by default', async (t) => {
  t.same(listed(compare({ tags: ['a', 'b'] }, { tags: ['b', 'a'] })), ['changed tags[*]'])
  t.same(listed(compare({ tags: ['a', 'b', 'c'] }, { tags: ['a', 'b'] })), ['only-in-baseline tags[*]'])
})

t.test('unordered arrays without a key compare as multisets', async (t) => {
  const rules = { unorderedArrays: ['tags'] }
  t.same(compare({ tags: ['a', 'b', 'a'] }, { tags: ['a', 'a', 'b'] }, rules), { kind: 'identical' })

  const verdict = compare({ tags: ['a', 'a', 'b'] }, { tags: ['b', 'a', 'c'] }, rules)
  t.same('differences' in verdict && verdict.differences, [
    { path: 'tags[*]', kind: 'only-in-baseline', at: 'tags[1]', baseline: 'a', count: 1 },
    { path: 'tags[*]', kind: 'only-in-candidate', at: 'tags[2]', candidate: 'c', count: 1 }
  ], 'a repeated element counts as many times as it appears')

  t.same(compare({ tags: [{ a: 1, b: 2 }] }, { tags: [{ b: 2, a: 1 }] }, rules), { kind: 'identical' }, 'elements match by content')
})

t.test('unordered arrays of arrays match by content too', async (t) => {
  t.same(compare({ grid: [[1, 2], [3]] }, { grid: [[3], [1, 2]] }, { unorderedArrays: ['grid'] }), { kind: 'identical' })
  t.same(listed(compare({ grid: [[1, 2]] }, { grid: [[2, 1]] }, { unorderedArrays: ['grid'] })),
    ['only-in-baseline grid[*]', 'only-in-candidate grid[*]'], 'inner arrays keep their order')
})

t.test('unordered arrays matched by content leave ignored fields out of the match', async (t) => {
  const baseline = { events: [{ kind: 'view', at: 1 }, { kind: 'buy', at: 2 }] }
  const candidate = { events: [{ kind: 'buy', at: 8 }, { kind: 'view', at: 9 }] }
  const verdict = compare(baseline, candidate, { unorderedArrays: ['events'], ignorePaths: ['events[*].at'] })

  t.equal(verdict.kind, 'noise-only')
  t.same(listed(verdict, 'ignored'), ['changed events[*].at'])
  t.equal('ignored' in verdict && verdict.ignored[0]?.count, 2)
})

t.test('unordered arrays with a key compare matched elements and report the unmatched', async (t) => {
  const rules = { unorderedArrays: [{ path: 'items', key: 'id' }] }
  const baseline = { items: [{ id: 1, price: 10 }, { id: 2, price: 20 }, { id: 3, price: 30 }] }
  const candidate = { items: [{ id: 2, price: 25 }, { id: 4, price: 40 }, { id: 1, price: 10 }] }
  const verdict = compare(baseline, candidate, rules)

  t.same('differences' in verdict && verdict.differences, [
    { path: 'items[*].price', kind: 'changed', at: 'items[1].price', baseline: 20, candidate: 25, count: 1 },
    { path: 'items[*]', kind: 'only-in-baseline', at: 'items[2]', baseline: { id: 3, price: 30 }, count: 1 },
    { path: 'items[*]', kind: 'only-in-candidate', at: 'items[1]', candidate: { id: 4, price: 40 }, count: 1 }
  ])
  t.same(compare(baseline, { items: [...baseline.items].reverse() }, rules), { kind: 'identical' })
  t.same(listed(compare({ items: [{ id: 7 }] }, { items: [{ id: '7' }] }, rules)),
    ['only-in-baseline items[*]', 'only-in-candidate items[*]'], 'the id 7 and the id "7" are different elements')
})

t.test('unordered rules reach nested arrays through wildcards and at the root', async (t) => {
  const rules = { unorderedArrays: ['sections[*].tags', ''] }
  t.same(compare({ sections: [{ tags: [1, 2] }] }, { sections: [{ tags: [2, 1] }] }, rules), { kind: 'identical' })
  t.same(compare([1, 2, 3], [3, 1, 2], rules), { kind: 'identical' })
})

t.test('numericTolerance absolute: the boundary is within, just past it is not', async (t) => {
  const rules = { numericTolerance: [{ path: 'items[*].price', absolute: 0.1 }] }

  const atBoundary = compare({ items: [{ price: 10.2 }] }, { items: [{ price: 10.3 }] }, rules)
  t.equal(atBoundary.kind, 'noise-only', '10.2 against 10.3 is within 0.1')
  t.same('ignored' in atBoundary && atBoundary.ignored.map((difference) => [difference.rule, difference.pattern]),
    [['numericTolerance', 'items[*].price']])
  t.same(listed(compare({ items: [{ price: 10.2 }] }, { items: [{ price: 10.31 }] }, rules)), ['changed items[*].price'])
  t.same(listed(compare({ items: [{ cost: 10.2 }] }, { items: [{ cost: 10.3 }] }, rules)), ['changed items[*].cost'],
    'only the named path is tolerant')
})

t.test('numericTolerance relative is a share of the baseline\'s value', async (t) => {
  const rules = { numericTolerance: [{ path: '**.score', relative: 0.01 }] }

  t.equal(compare({ score: 100 }, { score: 101 }, rules).kind, 'noise-only', '1 off 100 is 1%')
  t.equal(compare({ score: 100 }, { score: 99 }, rules).kind, 'noise-only', 'in both directions')
  t.equal(compare({ score: 100 }, { score: 101.01 }, rules).kind, 'diverging')
  t.equal(compare({ score: 0 }, { score: 0.001 }, rules).kind, 'diverging', 'nothing is tolerated around 0')
})

t.test('with both bounds, a number within either one is within', async (t) => {
  const rules = { numericTolerance: [{ path: 'n', absolute: 1, relative: 0.5 }] }

  t.equal(compare({ n: 2 }, { n: 3 }, rules).kind, 'noise-only', 'within the absolute bound')
  t.equal(compare({ n: 100 }, { n: 150 }, rules).kind, 'noise-only', 'within the relative bound')
  t.equal(compare({ n: 1 }, { n: 2.5 }, rules).kind, 'diverging', 'past both')
})

t.test('big integers in reported values are shown as decimal strings', async (t) => {
  const verdict = compare('{}', '{"a":{"id":9007199254740993,"ids":[9007199254740995],"n":1}}')

  t.same('differences' in verdict && verdict.differences, [{
    path: 'a',
    kind: 'only-in-candidate',
    at: 'a',
    candidate: { id: '9007199254740993', ids: ['9007199254740995'], n: 1 },
    count: 1
  }])
  t.same(listed(compare('{"n":9007199254740993}', '{"n":0.5}')), ['changed n'], 'a big integer against a fraction')
})

t.test('a tolerance never hides a type change', async (t) => {
  const rules = { numericTolerance: [{ path: 'n', absolute: 100 }] }
  t.same(listed(compare({ n: 1 }, { n: '1' }, rules)), ['type-changed n'])
})

t.test('compareHeaders compares named headers by value, whatever the case of their names', async (t) => {
  const rules = rulesFrom({ compareHeaders: ['ETag', 'x-version'] })
  const baseline = answer({}, 200, { etag: '"a"', 'x-version': '1', 'x-request-id': 'r1' })
  const candidate = answer({}, 200, { ETag: '"b"', 'X-Request-Id': 'r2' })

  t.same(listed(comparePair(baseline, candidate, rules)), ['changed @headers.etag', 'only-in-baseline @headers.x-version'])
  t.same(comparePair(baseline, { ...baseline }, rules), { kind: 'identical' })
  t.same(comparePair(baseline, candidate, rulesFrom()), { kind: 'identical' }, 'no header is compared unless named')
})

t.test('compareHeaders * takes every header but transport ones, and ignoreHeaders takes some back', async (t) => {
  const rules = rulesFrom({ compareHeaders: ['*'], ignoreHeaders: ['Date'] })
  const baseline = answer({ a: 1 }, 200, { date: 'Mon', 'content-length': '7', 'cache-control': 'no-store' })
  const candidate = answer({ a: 1 }, 200, { date: 'Tue', 'content-length': '9', 'cache-control': 'max-age=60' })
  const verdict = comparePair(baseline, candidate, rules)

  t.same(listed(verdict), ['changed @headers.cache-control'])
  t.same('ignored' in verdict && verdict.ignored, [
    { path: '@headers.date', kind: 'changed', at: '@headers.date', baseline: 'Mon', candidate: 'Tue', count: 1, rule: 'ignoreHeaders', pattern: 'date' }
  ])
})

t.test('a key "" only the candidate has is reported (deep-diff alone would skip it)', async (t) => {
  t.same(listed(compare({}, { '': 1 })), ['only-in-candidate [""]'])
  t.same(listed(compare({ a: {} }, { a: { '': null } })), ['null-vs-missing a[""]'])
  t.same(listed(compare({ '': 1 }, {})), ['only-in-baseline [""]'])
})

t.test('keys that are not plain names are quoted in paths', async (t) => {
  t.same(listed(compare({ 'a.b': 1, '@type': 'x' }, { 'a.b': 2, '@type': 'y' })), ['changed ["@type"]', 'changed ["a.b"]'])
  t.same(listed(compare('{"__proto__":1}', '{"__proto__":2}')), ['changed __proto__'], 'a JSON key, not a prototype')
})

t.test('distinct differences stop being listed at maxDifferences, and are still counted', async (t) => {
  const baseline = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`user${index}`, index]))
  const candidate = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`user${index}`, index + 1]))
  const verdict = compare(baseline, candidate, { maxDifferences: 3 })

  t.equal(verdict.kind, 'diverging')
  t.equal('differences' in verdict && verdict.differences.length, 3)
  t.same('omitted' in verdict && verdict.omitted, { differences: 7, ignored: 0 })
})

t.test('ignored differences past the limit still make the pair noise-only, never identical', async (t) => {
  const baseline = { a: 1, b: 1 }
  const candidate = { a: 2, b: 2 }
  const verdict = compare(baseline, candidate, { maxDifferences: 1, ignorePaths: ['*'] })

  t.equal(verdict.kind, 'noise-only')
  t.same('omitted' in verdict && verdict.omitted, { differences: 0, ignored: 1 })
})

t.test('answers with equal bodies left out compare by status and the headers the rules name', async (t) => {
  const rules = rulesFrom({ compareHeaders: ['cache-control'] })
  const sample = (status: number, cacheControl: string): ResponseSample =>
    ({ status, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'cache-control': cacheControl }, bodyBytes: 20 })

  t.equal(compareWithEqualBodies(sample(200, 'no-store'), sample(200, 'no-store'), rules).kind, 'identical')
  t.match(compareWithEqualBodies(sample(200, 'no-store'), sample(200, 'max-age=60'), rules), {
    kind: 'diverging', differences: [{ path: '@headers.cache-control', kind: 'changed' }]
  })
  t.match(compareWithEqualBodies(sample(200, 'no-store'), sample(404, 'no-store'), rules), {
    kind: 'status-mismatch', baselineStatus: 200, candidateStatus: 404
  })
})
