import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, type Dispatcher } from 'undici'
import { percentile, summarizeLatencies } from './latency-stats.js'
import { requireLoopback } from './loopback.js'

export interface OpenLoopOptions {
  url: string
  /** Requests started per second, whether or not earlier ones were answered. */
  ratePerSecond: number
  durationSeconds: number
  /** Upper bound on connections; requests beyond it wait in the client's queue. */
  connections: number
  headers?: Record<string, string>
  /** Time allowed for the response head and between body chunks. Default 5 000. */
  timeoutMs?: number
  /** How long answers are awaited after the last send; the rest count as unfinished. Default 5 000. */
  drainMs?: number
  /**
   * Told of every answer counted: when it was due (ms after the phase
   * started) and its latency, for figures over time within a phase.
   */
  onAnswer?: (dueAtMs: number, latencyMs: number) => void
}

export interface OpenLoopResult {
  ratePerSecond: number
  sent: number
  completed: number
  /** Answered responses per second, from the first scheduled send to the last answer. */
  achievedRate: number
  /** Latency from each request's scheduled send time to the end of its body. */
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** How late this process itself sent: the load generator's own lag, p99. */
  sendLagP99Ms: number
  non2xx: number
  errors: number
  unfinished: number
  errorCodes: Record<string, number>
  bytesReceived: number
}

interface Tally {
  latencies: Float64Array
  lags: Float64Array
  sent: number
  completed: number
  inFlight: number
  non2xx: number
  errors: number
  errorCodes: Record<string, number>
  bytesReceived: number
  lastAnswerAt: number
  /** Set when the phase ends: answers arriving later are not counted. */
  closed: boolean
  startedAt: number
  onAnswer: ((dueAtMs: number, latencyMs: number) => void) | undefined
}

/**
 * Fixed-rate load. Each request has a scheduled send time and its latency
 * is measured from that time, not from when it actually left: a stall that
 * holds back later sends shows up in their latency instead of silently
 * lowering the rate (the coordinated omission a closed loop suffers from).
 */
export async function measureOpenLoop (options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = requireLoopback(options.url)
  const timeoutMs = options.timeoutMs ?? 5_000
  const pool = new Pool(target.origin, {
    connections: options.connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs
  })
  const request: Dispatcher.RequestOptions = {
    method: 'GET', path: target.pathname + target.search, headers: options.headers ?? {}
  }
  const total = Math.max(1, Math.floor(options.ratePerSecond * options.durationSeconds))
  const startedAt = performance.now()
  const tally = createTally(total, startedAt, options.onAnswer)
  const send = (scheduledAt: number): void => { void sendOne(pool, request, scheduledAt, tally) }

  try {
    await sendOnSchedule(tally, 1_000 / options.ratePerSecond, startedAt, send)
    await waitForAnswers(tally, options.drainMs ?? 5_000)
  } finally {
    tally.closed = true
    await pool.destroy()
  }

  return summarizeTally(tally, options.ratePerSecond, startedAt)
}

function createTally (total: number, startedAt: number, onAnswer: Tally['onAnswer']): Tally {
  return {
    latencies: new Float64Array(total),
    lags: new Float64Array(total),
    sent: 0,
    completed: 0,
    inFlight: 0,
    non2xx: 0,
    errors: 0,
    errorCodes: {},
    bytesReceived: 0,
    lastAnswerAt: 0,
    closed: false,
    startedAt,
    onAnswer
  }
}

/**
 * Request i is due at startedAt + i × interval. Every millisecond or so,
 * all requests that have come due are sent; a short sleep rather than a
 * busy loop, because the generator shares two cores with the servers.
 */
async function sendOnSchedule (tally: Tally, intervalMs: number, startedAt: number, send: (scheduledAt: number) => void): Promise<void> {
  const total = tally.latencies.length
  while (tally.sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1)
    for (; tally.sent < due; tally.sent++) {
      const scheduledAt = startedAt + tally.sent * intervalMs
      tally.lags[tally.sent] = performance.now() - scheduledAt
      send(scheduledAt)
    }

    await sleep(1)
  }
}

async function sendOne (pool: Pool, request: Dispatcher.RequestOptions, scheduledAt: number, tally: Tally): Promise<void> {
  tally.inFlight += 1
  try {
    const { statusCode, body } = await pool.request(request)
    let bytes = 0
    for await (const chunk of body) bytes += (chunk as Buffer).length
    recordAnswer(tally, statusCode, bytes, scheduledAt)
  } catch (error) {
    recordError(tally, error)
  } finally {
    tally.inFlight -= 1
  }
}

function recordAnswer (tally: Tally, statusCode: number, bytes: number, scheduledAt: number): void {
  if (tally.closed) return

  const now = performance.now()
  tally.latencies[tally.completed] = now - scheduledAt
  tally.completed += 1
  tally.lastAnswerAt = now
  tally.bytesReceived += bytes
  if (statusCode < 200 || statusCode > 299) tally.non2xx += 1
  tally.onAnswer?.(scheduledAt - tally.startedAt, now - scheduledAt)
}

function recordError (tally: Tally, error: unknown): void {
  if (tally.closed) return

  const code = (error as { code?: unknown })?.code
  const key = typeof code === 'string' ? code : (error as Error)?.name ?? 'unknown'
  tally.errors += 1
  tally.errorCodes[key] = (tally.errorCodes[key] ?? 0) + 1
}

async function waitForAnswers (tally: Tally, drainMs: number): Promise<void> {
  const deadline = performance.now() + drainMs
  while (tally.inFlight > 0 && performance.now() < deadline) await sleep(5)
}

function summarizeTally (tally: Tally, ratePerSecond: number, startedAt: number): OpenLoopResult {
  const answered = tally.latencies.subarray(0, tally.completed)
  const elapsedSeconds = (tally.lastAnswerAt - startedAt) / 1_000

  return {
    ratePerSecond,
    sent: tally.sent,
    completed: tally.completed,
    achievedRate: elapsedSeconds > 0 ? tally.completed / elapsedSeconds : 0,
    ...summarizeLatencies(answered),
    sendLagP99Ms: percentile(Float64Array.from(tally.lags.subarray(0, tally.sent)).sort(), 0.99),
    non2xx: tally.non2xx,
    errors: tally.errors,
    unfinished: tally.sent - tally.completed - tally.errors,
    errorCodes: tally.errorCodes,
    bytesReceived: tally.bytesReceived
  }
}
