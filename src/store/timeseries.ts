import type { RedisClient } from './redis-connection.js'
import { bucketMs } from './diff-aggregates.js'
import type { Keys } from './keys.js'
import { emptyLatencyCounts, estimateQuantile } from './latency-histogram.js'

/** One time bucket of a route, for charts. Rates are null where nothing was counted. */
export interface TimePoint {
  /** Start of the bucket (epoch ms). */
  at: number
  compared: number
  diverging: number
  divergenceRate: number | null
  candidateRequests: number
  candidateErrorRate: number | null
  baselineRequests: number
  baselineErrorRate: number | null
  candidateP99Ms: number | null
  baselineP99Ms: number | null
}

/** Charts show at most this many points; longer ranges add buckets up. */
const maxPoints = 360

/**
 * A route's figures over time: divergence from the diff workers, requests,
 * errors and p99 of both backends from the gateways. Buckets are merged so
 * that no range gives more than a few hundred points.
 */
export async function readTimeseries (redis: RedisClient, keys: Keys, route: string, from: number, to: number): Promise<TimePoint[]> {
  const first = Math.floor(from / bucketMs)
  const last = Math.max(first, Math.ceil(to / bucketMs) - 1)
  const perPoint = Math.max(1, Math.ceil((last - first + 1) / maxPoints))
  const pipeline = redis.pipeline()
  for (let bucket = first; bucket <= last; bucket++) {
    pipeline.hgetall(keys.diffBucket(route, bucket))
    pipeline.hgetall(keys.liveBucket(route, bucket))
  }
  const replies = (await pipeline.exec()) ?? []

  const points: TimePoint[] = []
  for (let start = first; start <= last; start += perPoint) {
    const fields: Array<Record<string, string>> = []
    for (let bucket = start; bucket < start + perPoint && bucket <= last; bucket++) {
      const offset = (bucket - first) * 2
      fields.push(replyOf(replies[offset]), replyOf(replies[offset + 1]))
    }
    points.push(toPoint(start * bucketMs, fields))
  }

  return points
}

function replyOf (reply: [Error | null, unknown] | undefined): Record<string, string> {
  if (reply === undefined) return {}
  if (reply[0] !== null) throw reply[0]

  return reply[1] as Record<string, string>
}

function toPoint (at: number, hashes: Array<Record<string, string>>): TimePoint {
  const sum = (field: string): number => hashes.reduce((total, hash) => total + Number(hash[field] ?? 0), 0)
  const p99 = (prefix: string): number | null => {
    const counts = emptyLatencyCounts().map((_zero, index) => sum(`${prefix}${index}`))
    return estimateQuantile(counts, 0.99) ?? null
  }
  const rate = (part: number, whole: number): number | null => whole === 0 ? null : part / whole
  const compared = sum('compared')
  const diverging = sum('diverging') + sum('statusMismatch')
  const candidateRequests = sum('c:requests')
  const baselineRequests = sum('b:requests')

  return {
    at,
    compared,
    diverging,
    divergenceRate: rate(diverging, compared),
    candidateRequests,
    candidateErrorRate: rate(sum('c:errors'), candidateRequests),
    baselineRequests,
    baselineErrorRate: rate(sum('b:errors'), baselineRequests),
    candidateP99Ms: p99('c:l'),
    baselineP99Ms: p99('b:l')
  }
}
