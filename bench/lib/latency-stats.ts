/** Percentiles by the nearest-rank method over values sorted ascending. */
export function percentile (sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN

  const rank = Math.ceil(fraction * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(rank, 1)) - 1] ?? Number.NaN
}

export interface LatencySummary {
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export function summarizeLatencies (values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort()

  return {
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1] ?? Number.NaN
  }
}

export function median (values: number[]): number {
  return percentile(Float64Array.from(values).sort(), 0.5)
}
