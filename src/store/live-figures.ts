import type { RedisClient } from './redis-connection.js'
import { bucketMs, retentionMs } from './diff-aggregates.js'
import type { Keys } from './keys.js'
import { emptyLatencyCounts, interpolateQuantile, type LatencyCounts } from './latency-histogram.js'

/** One backend's live figures on one route: what the controller judges it by. */
export interface BackendFigures {
  /** Live requests sent to it (each attempt of the fallback chain counts). */
  requests: number
  /** Of those, failed: refused, reset, timed out, 5xx or a configured status. */
  errors: number
  /** Of those, moved on down the fallback chain. */
  fallbacks: number
  /** Answer times by latency-histogram bucket. */
  latency: LatencyCounts
}

export interface LiveFigures {
  candidate: BackendFigures
  baseline: BackendFigures
}

export function emptyLiveFigures (): LiveFigures {
  return { candidate: emptyBackendFigures(), baseline: emptyBackendFigures() }
}

export function emptyBackendFigures (): BackendFigures {
  return { requests: 0, errors: 0, fallbacks: 0, latency: emptyLatencyCounts() }
}

/**
 * p99 of a backend's answer times (ms), placed within its bucket, so that
 * the controller's comparison of two p99s is not decided by which side of
 * a bucket bound each fell on; undefined without answers.
 */
export function liveP99 (figures: BackendFigures): number | undefined {
  return interpolateQuantile(figures.latency, 0.99)
}

const prefixes = { candidate: 'c', baseline: 'b' } as const

/**
 * Adds one gateway's figures for one route and bucket. Gateways add, never
 * set, so any number of them sum up in the same hash.
 */
export async function addLiveFigures (redis: RedisClient, keys: Keys, route: string, bucket: number, figures: LiveFigures): Promise<void> {
  const key = keys.liveBucket(route, bucket)
  const pipeline = redis.multi()
  for (const side of ['candidate', 'baseline'] as const) {
    const prefix = prefixes[side]
    const { requests, errors, fallbacks, latency } = figures[side]
    if (requests > 0) pipeline.hincrby(key, `${prefix}:requests`, requests)
    if (errors > 0) pipeline.hincrby(key, `${prefix}:errors`, errors)
    if (fallbacks > 0) pipeline.hincrby(key, `${prefix}:fallbacks`, fallbacks)
    latency.forEach((count, index) => { if (count > 0) pipeline.hincrby(key, `${prefix}:l${index}`, count) })
  }
  pipeline.pexpire(key, retentionMs)

  await pipeline.exec()
}

/** A route's live figures summed over the buckets that overlap [from, to). */
export async function readLiveFigures (redis: RedisClient, keys: Keys, route: string, from: number, to: number): Promise<LiveFigures> {
  const pipeline = redis.pipeline()
  for (let bucket = Math.floor(from / bucketMs); bucket * bucketMs < to; bucket++) pipeline.hgetall(keys.liveBucket(route, bucket))
  const figures = emptyLiveFigures()
  for (const [error, fields] of (await pipeline.exec()) ?? []) {
    if (error !== null) throw error
    for (const [field, value] of Object.entries(fields as Record<string, string>)) addField(figures, field, Number(value))
  }

  return figures
}

function addField (figures: LiveFigures, field: string, value: number): void {
  const side = field.startsWith('c:') ? figures.candidate : field.startsWith('b:') ? figures.baseline : undefined
  if (side === undefined) return

  const name = field.slice(2)
  if (name === 'requests' || name === 'errors' || name === 'fallbacks') side[name] += value
  else if (name.startsWith('l')) side.latency[Number(name.slice(1))] = (side.latency[Number(name.slice(1))] ?? 0) + value
}
