import t from 'tap'
import { percentile } from '../../bench/lib/latency-stats.js'
import { cycleInterval, everyCycle, pooledPercentile, poolSlices } from '../../bench/lib/resample.js'

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

t.test('slices pool as the picked cycles say, a slice picked twice counting twice', async (t) => {
  const slices = [Float64Array.of(1, 2, 3), Float64Array.of(10, 20), Float64Array.of(5)]

  t.same([...poolSlices(slices, [0, 1, 2])], [1, 2, 3, 5, 10, 20], 'sorted together')
  t.same([...poolSlices(slices, [1, 1])], [10, 10, 20, 20])
  t.equal(pooledPercentile(slices, [0, 1, 2], 1), 20)
  t.equal(pooledPercentile(slices, [0, 0, 2], 0.5), percentile(Float64Array.of(1, 1, 2, 2, 3, 3, 5), 0.5))
  t.throws(() => poolSlices(slices, [3]), /no slice 3: there are 3/)
})
