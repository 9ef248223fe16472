import t from 'tap'
import { parseExactJson, readExactNumber } from '../../src/diff/exact-json.js'

t.test('ordinary documents read exactly as JSON.parse reads them', async (t) => {
  const texts = [
    '{"a":[1,-2.5,3e2,0,-0.0],"b":{"c":null,"d":true,"e":false},"f":"x\\"y\\u00e9\\n","g":[],"h":{}}',
    ' [ 1 , { "k" : "v" } ] ',
    '"just a string"',
    'null',
    '{"dup":1,"dup":2}',
    '{"":"empty key","é":"ü"}'
  ]
  for (const text of texts) t.same(parseExactJson(text), JSON.parse(text), text)
})

t.test('integers at or beyond 2^53 become bigint, smaller numbers stay numbers', async (t) => {
  const value = parseExactJson('{"id":9007199254740993,"neg":-9007199254740993,"small":9007199254740991,"price":4.5}')

  t.same(value, { id: 9007199254740993n, neg: -9007199254740993n, small: 9007199254740991, price: 4.5 })
  t.equal(typeof (value as Record<string, unknown>).small, 'number')
})

t.test('the same integer written another way is the same bigint', async (t) => {
  t.equal(readExactNumber('9007199254740993'), 9007199254740993n)
  t.equal(readExactNumber('9.007199254740993e15'), 9007199254740993n)
  t.equal(readExactNumber('9007199254740993.000'), 9007199254740993n)
  t.equal(readExactNumber('90071992547409930E-1'), 9007199254740993n)
  t.equal(readExactNumber('1e21'), 1_000_000_000_000_000_000_000n)
  t.equal(readExactNumber('-1E+21'), -1_000_000_000_000_000_000_000n)
})

t.test('large numbers with a fraction, and absurd exponents, stay doubles', async (t) => {
  t.equal(readExactNumber('9007199254740993.5'), 9007199254740994)
  t.equal(readExactNumber('1e400000'), Infinity)
  t.equal(readExactNumber('12.5'), 12.5)
})

t.test('a key named __proto__ is data, not a prototype', async (t) => {
  const value = parseExactJson('{"__proto__":{"polluted":true},"id":9007199254740993}') as Record<string, unknown>

  t.ok(Object.hasOwn(value, '__proto__'))
  t.equal(Object.getPrototypeOf(value), Object.prototype)
  t.same(Object.keys(value), ['__proto__', 'id'])
})

t.test('text that is not JSON throws a SyntaxError with the position', async (t) => {
  for (const text of ['', '{', '[1,]', '{"a" 1}', '{1:2}', 'nul', '"open', '[1] 2']) {
    t.throws(() => parseExactJson(text), SyntaxError, JSON.stringify(text))
  }
  t.throws(() => parseExactJson('[1,]'), { message: 'expected a value at position 3' })
})
