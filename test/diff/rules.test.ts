import t from 'tap'
import { compareSchema } from '../../src/config/compare-schema.js'
import { compileRules, findIgnoringPattern, findToleranceRule, findUnorderedRule } from '../../src/diff/rules.js'
import { SR_ERR_CONFIG_INVALID } from '../../src/errors.js'

function expectationsOf (section: unknown): string[] {
  const result = compareSchema.safeParse(section)

  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

t.test('an empty compare section gets every default', async (t) => {
  t.same(compareSchema.parse({}), {
    ignorePaths: [],
    compareHeaders: [],
    ignoreHeaders: [],
    unorderedArrays: [],
    numericTolerance: [],
    nullEqualsMissing: false,
    maxDecodedBytes: 8 * 1024 * 1024,
    maxDepth: 256,
    maxDifferences: 100
  })
})

t.test('an unordered array may be given by its path alone, and header names are lower-cased', async (t) => {
  const section = compareSchema.parse({
    unorderedArrays: ['tags', { path: 'items', key: 'id' }],
    compareHeaders: ['ETag'],
    ignoreHeaders: ['X-Request-Id']
  })

  t.same(section.unorderedArrays, [{ path: 'tags' }, { path: 'items', key: 'id' }])
  t.same(compareSchema.parse({ unorderedArrays: [''] }).unorderedArrays, [{ path: '' }], "'' is an array at the root")
  t.same(section.compareHeaders, ['etag'])
  t.same(section.ignoreHeaders, ['x-request-id'])
})

t.test('every problem is reported with what was expected', async (t) => {
  t.same(expectationsOf({
    ignorePaths: ['a..b', ''],
    compareHeaders: ['bad header'],
    unorderedArrays: [{ path: 'items', key: '' }],
    numericTolerance: [{ path: 'price' }, { path: 'cost', absolute: -1 }],
    nullEqualsMissing: 'yes',
    maxDepth: 5_000,
    colour: 'red'
  }), [
    'ignorePaths.0: a field path such as items[*].id or **.timestamp',
    'ignorePaths.1: a field path such as items[*].id or **.timestamp',
    'compareHeaders.0: a header name',
    'unorderedArrays.0.key: a key field name such as id',
    'numericTolerance.0: absolute, relative or both',
    'numericTolerance.1.absolute: a number of 0 or more',
    'nullEqualsMissing: true or false',
    'maxDepth: a nesting depth from 1 to 1000',
    ': Unrecognized key: "colour"'
  ])
})

t.test('compiled rules find the rule for a path', async (t) => {
  const rules = compileRules(compareSchema.parse({
    ignorePaths: ['debug', '**.traceId'],
    unorderedArrays: [{ path: 'items', key: 'id' }],
    numericTolerance: [{ path: 'items[*].price', relative: 0.01 }]
  }))

  t.equal(findIgnoringPattern(rules, ['debug', 'x', 0]), 'debug', 'below an ignored path')
  t.equal(findIgnoringPattern(rules, ['a', 2, 'traceId']), '**.traceId')
  t.equal(findIgnoringPattern(rules, ['debugging']), undefined)
  t.equal(findUnorderedRule(rules, ['items'])?.key, 'id')
  t.equal(findUnorderedRule(rules, ['items', 0]), undefined)
  t.same(findToleranceRule(rules, ['items', 4, 'price']), {
    pattern: 'items[*].price',
    steps: [{ kind: 'key', name: 'items' }, { kind: 'any-index' }, { kind: 'key', name: 'price' }],
    absolute: 0,
    relative: 0.01
  })
  t.ok(Object.isFrozen(rules))
})

t.test('rules built in code with bad patterns fail at once, naming each', async (t) => {
  const rules = { ...compareSchema.parse({}), ignorePaths: ['ok', 'a..b'], unorderedArrays: [{ path: '[3]' }] }

  t.throws(() => compileRules(rules), {
    code: 'SR_ERR_CONFIG_INVALID',
    message: 'configuration is invalid:\n' +
      'compare.ignorePaths[1]: expected a field path such as items[*].id or **.timestamp, found "a..b"\n' +
      'compare.unorderedArrays[0]: expected a field path such as items[*].id or **.timestamp, found "[3]"'
  })
  let thrown: unknown
  try {
    compileRules(rules)
  } catch (error) {
    thrown = error
  }
  t.ok(thrown instanceof SR_ERR_CONFIG_INVALID, 'the catalogue\'s configuration error')
})
