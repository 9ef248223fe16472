import t from 'tap'
import { rateDifferenceInterval, wilsonInterval, z95 } from '../../src/rollout/statistics.js'

// Published values to four decimals: Newcombe (1998), Statistics in
// Medicine 17, pp. 857–872 (single proportion, score method without
// continuity correction) and pp. 873–890 (difference, hybrid score method).
const wilsonCases: Array<[number, number, number, number]> = [
  [81, 263, 0.2553, 0.3662],
  [15, 148, 0.0624, 0.1605],
  [0, 20, 0, 0.1611],
  [1, 29, 0.0061, 0.1718]
]

const differenceCases: Array<[number, number, number, number, number, number]> = [
  [56, 70, 48, 80, 0.0524, 0.3339],
  [9, 10, 3, 10, 0.1705, 0.8090],
  [6, 7, 2, 7, 0.0582, 0.8062],
  [5, 56, 0, 29, -0.0381, 0.1926],
  [0, 10, 0, 20, -0.1611, 0.2775],
  [10, 10, 0, 20, 0.6791, 1]
]

function round4 (value: number): number {
  return Math.round(value * 10_000) / 10_000
}

t.test('the Wilson interval matches the published values', async (t) => {
  for (const [count, total, lower, upper] of wilsonCases) {
    const interval = wilsonInterval(count, total)
    t.equal(round4(interval.lower), lower, `lower bound of ${count}/${total}`)
    t.equal(round4(interval.upper), upper, `upper bound of ${count}/${total}`)
    t.equal(interval.estimate, count / total, `estimate of ${count}/${total}`)
  }
})

t.test('the Wilson interval is exactly 0 or 1 at the edges and never leaves 0–1', async (t) => {
  t.ok(Object.is(wilsonInterval(0, 10).lower, 0), 'lower bound of 0/10 is 0, not a rounding error below it')
  t.equal(round4(wilsonInterval(0, 10).upper), 0.2775)
  t.equal(wilsonInterval(29, 29).upper, 1)
  t.equal(round4(wilsonInterval(29, 29).lower), 0.883)

  for (let count = 0; count <= 40; count++) {
    const { lower, upper, estimate } = wilsonInterval(count, 40)
    t.ok(lower >= 0 && lower <= estimate && estimate <= upper && upper <= 1, `${count}/40 is ordered inside 0–1`)
  }
})

t.test('without trials the interval is the whole range', async (t) => {
  t.same(wilsonInterval(0, 0), { estimate: 0, lower: 0, upper: 1 })
})

t.test('0 of 300 still leaves an upper bound of about 1.3%', async (t) => {
  const { upper } = wilsonInterval(0, 300)
  t.ok(upper > 0.0125 && upper < 0.0127, `upper bound is ${upper}`)
})

t.test('the interval narrows as the sample grows', async (t) => {
  const small = wilsonInterval(5, 500)
  const large = wilsonInterval(50, 5_000)
  t.ok(large.upper - large.lower < small.upper - small.lower)
  t.ok(large.upper < small.upper && large.lower > small.lower)
})

t.test('a wider z widens the interval', async (t) => {
  const normal = wilsonInterval(10, 100)
  const wide = wilsonInterval(10, 100, z95 * 2)
  t.ok(wide.lower < normal.lower && wide.upper > normal.upper)
})

t.test('counts that are not whole, negative or over the total are refused', async (t) => {
  t.throws(() => wilsonInterval(5, 4), RangeError)
  t.throws(() => wilsonInterval(-1, 4), RangeError)
  t.throws(() => wilsonInterval(1.5, 4), RangeError)
  t.throws(() => wilsonInterval(1, Number.NaN), RangeError)
})

t.test('the difference interval matches the published values', async (t) => {
  for (const [count1, total1, count2, total2, lower, upper] of differenceCases) {
    const interval = rateDifferenceInterval({ count: count1, total: total1 }, { count: count2, total: total2 })
    const label = `${count1}/${total1} − ${count2}/${total2}`
    t.equal(round4(interval.lower), lower, `lower bound of ${label}`)
    t.equal(round4(interval.upper), upper, `upper bound of ${label}`)
    t.equal(interval.estimate, count1 / total1 - count2 / total2, `estimate of ${label}`)
  }
})

t.test('the difference interval is antisymmetric', async (t) => {
  const forward = rateDifferenceInterval({ count: 7, total: 300 }, { count: 2, total: 900 })
  const backward = rateDifferenceInterval({ count: 2, total: 900 }, { count: 7, total: 300 })
  t.equal(round4(forward.lower), round4(-backward.upper))
  t.equal(round4(forward.upper), round4(-backward.lower))
})
