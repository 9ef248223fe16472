import t from 'tap'
import { findLastKey, matchesPattern, parseFieldPattern, renderPath, type PathStep } from '../../src/diff/field-path.js'

function matches (pattern: string, path: PathStep[]): boolean {
  const steps = parseFieldPattern(pattern)
  if (steps === undefined) throw new Error(`not a pattern: ${pattern}`)

  return matchesPattern(steps, path)
}

t.test('paths are written with dots and brackets, indices collapsed on request', async (t) => {
  const path: PathStep[] = ['data', 'items', 3, 'price']

  t.equal(renderPath(path, false), 'data.items[3].price')
  t.equal(renderPath(path, true), 'data.items[*].price')
  t.equal(renderPath([], true), '', 'the whole body is the empty path')
  t.equal(renderPath([0, 'id'], true), '[*].id')
  t.equal(renderPath(['labels', 'en.GB', '@type', '', '*'], false), 'labels["en.GB"]["@type"][""]["*"]')
})

t.test('a rendered path reads back as the same steps', async (t) => {
  t.same(parseFieldPattern('labels["en.GB"]["a\\"b"][*].x-y'), [
    { kind: 'key', name: 'labels' },
    { kind: 'key', name: 'en.GB' },
    { kind: 'key', name: 'a"b' },
    { kind: 'any-index' },
    { kind: 'key', name: 'x-y' }
  ])
  t.same(parseFieldPattern(''), [])
  t.same(parseFieldPattern('**.ts'), [{ kind: 'any-depth' }, { kind: 'key', name: 'ts' }])
})

t.test('text that is not a pattern is refused', async (t) => {
  for (const text of ['a..b', '.a', 'a.', 'a[3]', 'a[*', 'a["b"', 'a["b"]c', 'a b', 'ti*me', '[""', '["\\x"]']) {
    t.equal(parseFieldPattern(text), undefined, JSON.stringify(text))
  }
})

t.test('** matches any number of steps, none included', async (t) => {
  t.ok(matches('**.timestamp', ['timestamp']))
  t.ok(matches('**.timestamp', ['a', 3, 'b', 'timestamp']))
  t.notOk(matches('**.timestamp', ['timestamp', 'x']))
  t.notOk(matches('**.timestamp', ['timestampUtc']))
  t.ok(matches('a.**.c', ['a', 'c']))
  t.ok(matches('a.**.c.**.d', ['a', 'x', 'c', 'y', 'c', 'z', 'd']), 'backs up past a false start')
  t.notOk(matches('a.**.c', ['a', 'b', 'c', 'd']))
  t.ok(matches('**', []))
})

t.test('* is one key and [*] one index, never the other', async (t) => {
  t.ok(matches('*.id', ['user', 'id']))
  t.notOk(matches('*.id', [0, 'id']))
  t.notOk(matches('*.id', ['a', 'b', 'id']))
  t.ok(matches('[*].id', [0, 'id']))
  t.notOk(matches('[*].id', ['user', 'id']))
  t.notOk(matches('items', ['items', 0]), 'a pattern matches the whole path, not a prefix')
})

t.test('the last key of a path, when it ends with one', async (t) => {
  t.equal(findLastKey(parseFieldPattern('a[*].timestamp') ?? []), 'timestamp')
  t.equal(findLastKey(parseFieldPattern('a[*]') ?? []), undefined)
  t.equal(findLastKey([]), undefined)
})
