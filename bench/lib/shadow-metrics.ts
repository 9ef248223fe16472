import { fetchMetricsText, parseSamples, sumBy, type MetricSample } from './gateway-metrics.js'

/** The shadow side of a gateway, from its /metrics: counters so far and gauges now. */
export interface ShadowMetricsReading {
  /** Live requests by the backend (or fallback) that served them. */
  requestsByServedBy: Record<string, number>
  fallbacks: number
  /** Sampled requests not mirrored, by reason (busy: the in-flight cap). */
  skippedByReason: Record<string, number>
  captured: number
  enqueued: number
  identical: number
  /** Pairs lost before the queue, by reason. */
  droppedByReason: Record<string, number>
  /** Shadow requests without an answer, by kind (refused, timeout, …). */
  shadowErrorsByKind: Record<string, number>
  /** Gauges: bytes of pairs held for Redis, batches waiting, share of the sample rate in force. */
  pendingBytes: number
  queueDepth: number
  rateFactor: number
  /** Time in garbage collection since start, by kind (minor, major, incremental, weakcb). */
  gcSecondsByKind: Record<string, number>
  /** Worst event-loop delay since the previous scrape of /metrics (prom-client restarts it at each). */
  eventLoopLagMaxMs: number
}

/** Counters between two readings; gauges as of the later one. */
export type ShadowMetricsChange = ShadowMetricsReading

/** One reading of the gauges, `atMs` after the phase started; `dropped` counts pairs dropped since start. */
export interface ShadowGaugeSample {
  atMs: number
  pendingBytes: number
  queueDepth: number
  rateFactor: number
  dropped: number
  eventLoopLagMaxMs: number
}

/** A gauge's extremes while a phase ran, from readings every few hundred ms. */
export interface ShadowGaugeTrace {
  samples: ShadowGaugeSample[]
  maxPendingBytes: number
  minRateFactor: number
  /** The worst event-loop delay of the phase: each reading covers the time since the one before. */
  maxEventLoopLagMs: number
  /** Readings that failed (the gateway did not answer within the interval's budget). */
  missed: number
}

const prefix = 'shadowramp_'

export async function readShadowMetrics (adminUrl: string): Promise<ShadowMetricsReading> {
  const samples = parseSamples(await fetchMetricsText(adminUrl))
  const total = (name: string): number => sumAll(samples, `${prefix}${name}`)

  return {
    requestsByServedBy: sumBy(samples, `${prefix}requests_total`, 'served_by'),
    fallbacks: total('fallbacks_total'),
    skippedByReason: sumBy(samples, `${prefix}shadow_skipped_total`, 'reason'),
    captured: total('pairs_captured_total'),
    enqueued: total('pairs_enqueued_total'),
    identical: total('pairs_bodies_identical_total'),
    droppedByReason: sumBy(samples, `${prefix}pairs_dropped_total`, 'reason'),
    shadowErrorsByKind: sumBy(samples, `${prefix}shadow_errors_total`, 'kind'),
    pendingBytes: total('shadow_pending_bytes'),
    queueDepth: total('queue_depth'),
    rateFactor: minimumOf(samples, `${prefix}shadow_rate_factor`),
    gcSecondsByKind: sumBy(samples, `${prefix}nodejs_gc_duration_seconds_sum`, 'kind'),
    eventLoopLagMaxMs: total('nodejs_eventloop_lag_max_seconds') * 1_000
  }
}

export function shadowChangeBetween (before: ShadowMetricsReading, after: ShadowMetricsReading): ShadowMetricsChange {
  return {
    ...after,
    requestsByServedBy: subtract(before.requestsByServedBy, after.requestsByServedBy),
    fallbacks: after.fallbacks - before.fallbacks,
    skippedByReason: subtract(before.skippedByReason, after.skippedByReason),
    captured: after.captured - before.captured,
    enqueued: after.enqueued - before.enqueued,
    identical: after.identical - before.identical,
    droppedByReason: subtract(before.droppedByReason, after.droppedByReason),
    shadowErrorsByKind: subtract(before.shadowErrorsByKind, after.shadowErrorsByKind),
    gcSecondsByKind: subtract(before.gcSecondsByKind, after.gcSecondsByKind)
  }
}

/**
 * Reads the gateway's gauges every `intervalMs` until `phase` settles. A
 * reading still running when the next is due is not doubled up: a stalled
 * gateway yields fewer samples, counted as missed.
 */
export async function traceShadowGauges<T> (
  adminUrl: string, intervalMs: number, phase: () => Promise<T>
): Promise<{ result: T, trace: ShadowGaugeTrace }> {
  const trace: ShadowGaugeTrace = {
    samples: [], maxPendingBytes: 0, minRateFactor: 1, maxEventLoopLagMs: 0, missed: 0
  }
  const startedAt = Date.now()
  let reading = false
  const timer = setInterval(() => {
    if (reading) { trace.missed += 1; return }
    reading = true
    void readShadowMetrics(adminUrl)
      .then((now) => record(trace, Date.now() - startedAt, now))
      .catch(() => { trace.missed += 1 })
      .finally(() => { reading = false })
  }, intervalMs)

  try {
    return { result: await phase(), trace }
  } finally {
    clearInterval(timer)
  }
}

function record (trace: ShadowGaugeTrace, atMs: number, now: ShadowMetricsReading): void {
  const dropped = Object.values(now.droppedByReason).reduce((sum, value) => sum + value, 0)
  const { pendingBytes, queueDepth, rateFactor, eventLoopLagMaxMs } = now
  trace.samples.push({ atMs, pendingBytes, queueDepth, rateFactor, dropped, eventLoopLagMaxMs })
  trace.maxPendingBytes = Math.max(trace.maxPendingBytes, pendingBytes)
  trace.minRateFactor = Math.min(trace.minRateFactor, rateFactor)
  trace.maxEventLoopLagMs = Math.max(trace.maxEventLoopLagMs, eventLoopLagMaxMs)
}

function sumAll (samples: MetricSample[], name: string): number {
  return samples.reduce((sum, sample) => sample.name === name ? sum + sample.value : sum, 0)
}

/** 1 when the gauge is absent (a gateway that mirrors nothing runs at its full rate). */
function minimumOf (samples: MetricSample[], name: string): number {
  const values = samples.filter((sample) => sample.name === name).map((sample) => sample.value)

  return values.length === 0 ? 1 : Math.min(...values)
}

function subtract (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const entries = Object.entries(after)
    .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
    .filter(([, value]) => value !== 0)

  return Object.fromEntries(entries)
}
