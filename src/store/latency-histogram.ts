/**
 * A coarse latency histogram that sums by plain addition, so gateways and
 * workers can add theirs into the same Redis hash fields. Bucket upper
 * bounds in milliseconds, roughly ×1.6 apart; the last is open.
 */
export const latencyBoundsMs = [
  1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200, 300, 500, 800, 1_300, 2_000, 3_000, 5_000, 8_000, 13_000, Infinity
]

export function latencyBucket (ms: number): number {
  let index = 0
  while (ms > (latencyBoundsMs[index] as number)) index++

  return index
}

export type LatencyCounts = number[]

export function emptyLatencyCounts (): LatencyCounts {
  return new Array<number>(latencyBoundsMs.length).fill(0)
}

/**
 * The bound of the bucket holding the given quantile: a conservative
 * (never lower) estimate. Undefined with no samples. The open last bucket
 * reports the largest finite bound.
 */
export function estimateQuantile (counts: LatencyCounts, quantile: number): number | undefined {
  const total = counts.reduce((sum, count) => sum + count, 0)
  if (total === 0) return undefined

  const rank = Math.ceil(quantile * total)
  let seen = 0
  for (let index = 0; index < counts.length; index++) {
    seen += counts[index] ?? 0
    if (seen >= rank) return Math.min(latencyBoundsMs[index] as number, latencyBoundsMs.at(-2) as number)
  }

  return latencyBoundsMs.at(-2)
}

/**
 * The quantile placed within its bucket, as if the bucket's samples were
 * spread evenly between its bounds. For comparing two histograms: the
 * bounds are about ×1.6 apart, so two bucket bounds compared against a
 * ratio of ×1.5 would fail a candidate whose p99 is a hair over a bound
 * the baseline's is a hair under. Undefined with no samples; the open
 * last bucket gives the largest finite bound.
 */
export function interpolateQuantile (counts: LatencyCounts, quantile: number): number | undefined {
  const total = counts.reduce((sum, count) => sum + count, 0)
  if (total === 0) return undefined

  const rank = quantile * total
  let below = 0
  for (let index = 0; index < counts.length - 1; index++) {
    const count = counts[index] ?? 0
    if (count > 0 && below + count >= rank) {
      const lower = index === 0 ? 0 : latencyBoundsMs[index - 1] as number
      const upper = latencyBoundsMs[index] as number
      return lower + (upper - lower) * Math.max(0, rank - below) / count
    }
    below += count
  }

  return latencyBoundsMs.at(-2)
}
