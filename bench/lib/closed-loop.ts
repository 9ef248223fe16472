import type { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { summarizeLatencies } from './latency-stats.js'
import { requireLoopback } from './loopback.js'

export interface ClosedLoopOptions {
  url: string
  /** Connections kept busy: each sends its next request when the last one is answered. */
  connections: number
  durationSeconds: number
  headers?: Record<string, string>
  /** A request without an answer by then counts as an error. Default 10. */
  timeoutSeconds?: number
}

export interface ClosedLoopResult {
  requestsPerSecond: number
  /** How long the load ran, as autocannon timed it (it may run past a fraction of a second asked for). */
  seconds: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  responses: number
  errors: number
  timeouts: number
  non2xx: number
}

/** The part of autocannon's programmatic interface used here (it ships no types). */
interface AutocannonRun extends EventEmitter, PromiseLike<AutocannonResult> {}

interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
}

type Autocannon = (options: Record<string, unknown>) => AutocannonRun

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

/**
 * Saturation: how many requests per second the target answers when every
 * connection always has one waiting. Latencies here include queueing and
 * mostly describe the saturated state.
 */
export async function measureClosedLoop (options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  requireLoopback(options.url)
  const latencies: number[] = []
  const run = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds ?? 10,
    pipelining: 1,
    headers: options.headers ?? {}
  })
  // autocannon's own histogram keeps whole milliseconds; on loopback the
  // interesting differences are fractions of one.
  run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    latencies.push(ms)
  })

  const result = await run
  return summarizeRun(result, latencies)
}

function summarizeRun (result: AutocannonResult, latencies: number[]): ClosedLoopResult {
  const { p50Ms, p99Ms, maxMs } = summarizeLatencies(latencies)

  return {
    requestsPerSecond: latencies.length / result.duration,
    seconds: result.duration,
    p50Ms,
    p99Ms,
    maxMs,
    responses: latencies.length,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx
  }
}
