import t from 'tap'
import { percentile } from '../../bench/lib/latency-stats.js'
import { cycleInterval, everyCycle, PooledSlices, poolSlices, straddles } from '../../bench/lib/resample.js'

const mean = (values: readonly number[], picked: readonly number[]): number =>
  picked.reduce((sum, index) => sum + (values[index] ?? Number.NaN), 0) / picked.length

t.test('the interval holds the figure measured over every cycle, and is the same for the same seed', async (t) => {
  const perCycle = [10, 12, 9, 15, 11, 10, 13, 8, 14, 12]
  const figure = (picked: readonly number[]): number => mean(perCycle, picked)
  const measured = figure(everyCycle(perCycle.length))

  const interval = cycleInterval(perCycle.length, figure)

  t.ok(interval.low < measured && measured < interval.high, `${interval.low} < ${measured} < ${interval.high}`)
  t.ok(interval.low >= 8 && interval.high <= 15, 'within what was measured')
  t.same(cycleInterval(perCycle.length, figure), interval, 'the same draws again')
  const otherSeed = cycleInterval(perCycle.length, figure, { seed: 7 })
  t.ok(otherSeed.low < measured && measured < otherSeed.high, 'other draws, the same figure inside')
})

t.test('cycles that agree give a narrow interval, cycles that do not a wide one', async (t) => {
  const steady = [10, 10.1, 9.9, 10, 10.2, 9.8, 10, 10.1, 9.9, 10]
  const noisy = [10, 4, 16, 10, 2, 18, 10, 6, 14, 10]

  const narrow = cycleInterval(steady.length, (picked) => mean(steady, picked))
  const wide = cycleInterval(noisy.length, (picked) => mean(noisy, picked))

  t.ok(narrow.high - narrow.low < 0.3, `steady: ${narrow.low} to ${narrow.high}`)
  t.ok(wide.high - wide.low > 3, `noisy: ${wide.low} to ${wide.high}`)
})

t.test('both sides of a ratio are drawn alike: noise they share cancels', async (t) => {
  // Every cycle the second side is twice the first, however much the machine moved.
  const first = [3, 9, 4, 12, 5, 7, 20, 6]
  const second = first.map((value) => value * 2)

  const interval = cycleInterval(first.length, (picked) => mean(second, picked) / mean(first, picked))

  t.same(interval, { low: 2, high: 2 })
})

t.test('a higher level gives a wider interval', async (t) => {
  const perCycle = Array.from({ length: 30 }, (_, index) => (index * 7) % 11)
  const figure = (picked: readonly number[]): number => mean(perCycle, picked)

  const ninety = cycleInterval(perCycle.length, figure, { level: 0.9 })
  const half = cycleInterval(perCycle.length, figure, { level: 0.5 })

  t.ok(ninety.low <= half.low && half.high <= ninety.high && ninety.high - ninety.low > half.high - half.low,
    `90%: ${ninety.low} to ${ninety.high}; 50%: ${half.low} to ${half.high}`)
})

t.test('one cycle, or a level that is not a share, is refused', async (t) => {
  t.throws(() => cycleInterval(1, () => 1), /at least 2 cycles, found 1/)
  t.throws(() => cycleInterval(2.5, () => 1), /at least 2 cycles, found 2.5/)
  t.throws(() => cycleInterval(5, () => 1, { level: 1 }), /between 0 and 1, found 1/)
})

t.test('the interval leaves as many draws out above as below', async (t) => {
  // A figure that is the draw's own number: the draws' figures are 0 to 499.
  let draw = 0
  const counting = (): number => draw++

  t.same(cycleInterval(5, counting), { low: 25, high: 474 }, '25 of 500 out at each end')
  draw = 0
  t.same(cycleInterval(5, counting, { level: 0.5, draws: 100 }), { low: 25, high: 74 }, '25 of 100 out at each end')
})

t.test('every cycle is drawn, and another seed draws otherwise', async (t) => {
  const drawn = (seed: number): number[][] => {
    const picks: number[][] = []
    cycleInterval(6, (picked) => { picks.push([...picked]); return 0 }, { seed, draws: 50 })
    return picks
  }

  t.same([...new Set(drawn(1).flat())].sort(), [0, 1, 2, 3, 4, 5], 'the last cycle as well as the first')
  t.same(drawn(1), drawn(1))
  t.notSame(drawn(1), drawn(2))
})

t.test('a draw without a figure leaves no interval', async (t) => {
  const interval = cycleInterval(4, (picked) => picked.includes(3) ? Number.NaN : 1)

  t.ok(Number.isNaN(interval.low) && Number.isNaN(interval.high), 'both ends NaN, never a NaN passed off as an end')
})

t.test('slices pool as the picked cycles say, a slice picked twice counting twice', async (t) => {
  const slices = [Float64Array.of(1, 2, 3), Float64Array.of(10, 20), Float64Array.of(5)]
  const pooled = new PooledSlices(slices)

  t.same([...poolSlices(slices, [0, 1, 2])], [1, 2, 3, 5, 10, 20], 'sorted together')
  t.same([...poolSlices(slices, [1, 1])], [10, 10, 20, 20])
  t.equal(pooled.percentile([0, 1, 2], 1), 20)
  t.equal(pooled.percentile([0, 1, 2], 0), 1, 'the smallest at the lowest rank')
  t.equal(pooled.percentile([0, 0, 2], 0.5), percentile(Float64Array.of(1, 1, 2, 2, 3, 3, 5), 0.5))
  t.equal(pooled.percentile([2, 2, 2], 0.99), 5, 'one slice only')
  t.ok(Number.isNaN(new PooledSlices([new Float64Array(0), new Float64Array(0)]).percentile([0, 1], 0.5)), 'no values, no percentile')
  t.throws(() => poolSlices(slices, [3]), /no slice 3: there are 3/)
  t.throws(() => pooled.percentile([3], 0.5), /no slice 3: there are 3/)
})

t.test('the percentile over picked slices is the one of those slices pooled, whatever the pick', async (t) => {
  let state = 7
  const next = (): number => { state = (state * 1_103_515_245 + 12_345) % 2_147_483_648; return state / 2_147_483_648 }
  const slices = Array.from({ length: 12 }, (_, index) =>
    Float64Array.from({ length: 40 + index * 7 }, () => Math.round(next() * 1_000) / 10).sort())
  const pooled = new PooledSlices(slices)

  for (let trial = 0; trial < 200; trial++) {
    const picked = Array.from({ length: 12 }, () => Math.floor(next() * 12))
    for (const fraction of [0.01, 0.5, 0.9, 0.99, 1]) {
      const expected = percentile(poolSlices(slices, picked), fraction)
      if (pooled.percentile(picked, fraction) !== expected) {
        t.fail(`picked ${picked.join(',')} at ${fraction}: ${pooled.percentile(picked, fraction)} against ${expected}`)
        return
      }
    }
  }
  t.pass('200 picks, five percentiles each, all equal to pooling and sorting')
})

t.test('a verdict is in doubt when its interval straddles the limit, and not for errors', async (t) => {
  const atMost = (value: number): boolean => value <= 1.1

  t.equal(straddles({ low: 0.8, high: 1.05 }, atMost, true, 0), false, 'passed, the whole interval within')
  t.equal(straddles({ low: 0.8, high: 1.1 }, atMost, true, 0), false, 'an end exactly at the limit is within')
  t.equal(straddles({ low: 0.9, high: 1.3 }, atMost, true, 0), true, 'passed, but the interval goes past')
  t.equal(straddles({ low: 1.2, high: 1.5 }, atMost, false, 0), false, 'failed, the whole interval past')
  t.equal(straddles({ low: 1.0, high: 1.5 }, atMost, false, 0), true, 'failed, but part of the interval within')
  t.equal(straddles({ low: 1.0, high: 1.5 }, atMost, false, 3), false, 'failed for errors: not noise')
  t.equal(straddles({ low: Number.NaN, high: Number.NaN }, atMost, false, 0), false, 'no interval, nothing to say')
  const atLeast = (value: number): boolean => value >= 0.8
  t.equal(straddles({ low: 0.79, high: 0.83 }, atLeast, true, 0), true, 'a floor works the same way round')
})
