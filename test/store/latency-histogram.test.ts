import t, { type Test } from 'tap'
import { emptyLatencyCounts, estimateQuantile, interpolateQuantile, latencyBoundsMs, latencyBucket } from '../../src/store/latency-histogram.js'
import { liveP99, emptyBackendFigures } from '../../src/store/live-figures.js'

/** Counts with `count` samples in the bucket that holds `ms`, for each pair given. */
function countsOf (...samples: Array<[ms: number, count: number]>) {
  const counts = emptyLatencyCounts()
  for (const [ms, count] of samples) counts[latencyBucket(ms)] = (counts[latencyBucket(ms)] ?? 0) + count
  return counts
}

/** Equal to within rounding: ranks are quantile × count, in floating point. */
function near (t: Test, actual: number | undefined, expected: number | undefined, message: string): void {
  t.ok(actual !== undefined && expected !== undefined && Math.abs(actual - expected) < 1e-9, `${message} (${actual} against ${expected})`)
}

t.test('a quantile placed within its bucket, as if its samples were spread evenly between its bounds', async (t) => {
  t.equal(interpolateQuantile(emptyLatencyCounts(), 0.99), undefined, 'no samples, no quantile')
  near(t, interpolateQuantile(countsOf([6, 100]), 0.99), 5 + 3 * 0.99, 'within the 5–8 ms bucket')
  near(t, interpolateQuantile(countsOf([0.5, 100]), 0.5), 0.5, 'the first bucket starts at zero')
  near(t, interpolateQuantile(countsOf([6, 50], [100, 50]), 0.5), 8, 'a rank at the end of a bucket is its upper bound')
  near(t, interpolateQuantile(countsOf([6, 50], [100, 50]), 0.51), 80 + 50 * (1 / 50), 'and just past it, into the next bucket with samples')
  t.equal(interpolateQuantile(countsOf([60_000, 10]), 0.99), latencyBoundsMs.at(-2), 'the open last bucket gives the largest finite bound')
  t.ok((interpolateQuantile(countsOf([6, 30], [20, 70]), 0.99) ?? Infinity) <= (estimateQuantile(countsOf([6, 30], [20, 70]), 0.99) ?? 0),
    'never above the bucket bound the report shows')
})

t.test('a candidate a hair over a bucket bound the baseline is a hair under is not three buckets slower', async (t) => {
  // The baseline's p99 falls in the 80–130 ms bucket; the candidate's only just past 130 ms.
  const baseline = { ...emptyBackendFigures(), latency: countsOf([120, 100]) }
  const candidate = { ...emptyBackendFigures(), latency: countsOf([120, 98], [140, 2]) }
  const baselineP99 = liveP99(baseline) ?? 0
  const candidateP99 = liveP99(candidate) ?? 0

  t.equal(estimateQuantile(candidate.latency, 0.99), 200, 'as bucket bounds: 200 ms')
  t.equal(estimateQuantile(baseline.latency, 0.99), 130, 'against 130 ms, over ×1.5')
  near(t, baselineP99, 80 + 50 * 0.99, 'the baseline within 80–130 ms')
  near(t, candidateP99, 130 + 70 * 0.5, 'the candidate within 130–200 ms')
  t.ok(candidateP99 < baselineP99 * 1.5, `placed within their buckets: ${candidateP99} ms against ${baselineP99.toFixed(1)} ms, under ×1.5`)
})
