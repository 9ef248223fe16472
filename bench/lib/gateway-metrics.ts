import { Client } from 'undici'
import { requireLoopback } from './loopback.js'

/** The gateway's own account of a run, from its Prometheus endpoint. */
export interface GatewayMetricsSummary {
  /** Live requests by the backend (or fallback) that served them. */
  requestsByServedBy: Record<string, number>
  fallbacks: number
  /** Time spent in garbage collection since start, by kind (minor, major, …). */
  gcSecondsByKind: Record<string, number>
  /** Worst event-loop delay since start: a blocked or descheduled gateway shows here. */
  eventLoopLagMaxMs: number | undefined
}

/** One line of Prometheus text: a metric's name, labels and value. */
export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

const prefix = 'shadowramp_'
const sampleLine = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/
const labelPair = /(\w+)="((?:[^"\\]|\\.)*)"/g

export async function readGatewayMetrics (adminUrl: string): Promise<GatewayMetricsSummary> {
  const samples = parseSamples(await fetchMetricsText(adminUrl))
  const lagName = `${prefix}nodejs_eventloop_lag_max_seconds`
  const lagMax = samples.find((sample) => sample.name === lagName)
  const fallbacksByRoute = sumBy(samples, `${prefix}fallbacks_total`, 'route')

  return {
    requestsByServedBy: sumBy(samples, `${prefix}requests_total`, 'served_by'),
    fallbacks: Object.values(fallbacksByRoute).reduce((total, value) => total + value, 0),
    gcSecondsByKind: sumBy(samples, `${prefix}nodejs_gc_duration_seconds_sum`, 'kind'),
    eventLoopLagMaxMs: lagMax === undefined ? undefined : lagMax.value * 1_000
  }
}

/** The text of a process's /metrics, from 127.0.0.1 only. */
export async function fetchMetricsText (adminUrl: string): Promise<string> {
  const origin = requireLoopback(adminUrl).origin
  const client = new Client(origin, { headersTimeout: 5_000, bodyTimeout: 5_000 })
  try {
    const { body } = await client.request({ method: 'GET', path: '/metrics' })
    return await body.text()
  } finally {
    await client.close()
  }
}

/** Prometheus text format, reduced to what is read here: names, labels, values. */
export function parseSamples (text: string): MetricSample[] {
  const samples: MetricSample[] = []
  for (const line of text.split('\n')) {
    const match = sampleLine.exec(line)
    if (match === null) continue

    const pairs = [...(match[2] ?? '').matchAll(labelPair)]
    const labels = Object.fromEntries(pairs.map((pair) => [pair[1], pair[2]]))
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) })
  }

  return samples
}

/** A metric's values summed per value of one label. */
export function sumBy (samples: MetricSample[], name: string, label: string): Record<string, number> {
  const totals: Record<string, number> = {}
  for (const sample of samples) {
    if (sample.name !== name) continue
    const key = sample.labels[label] ?? ''
    totals[key] = (totals[key] ?? 0) + sample.value
  }

  return totals
}

/**
 * What happened between two readings. The event-loop maximum needs no
 * subtraction: prom-client restarts it at every scrape, so the later
 * reading covers exactly the time since the earlier one.
 */
export function changeBetween (before: GatewayMetricsSummary, after: GatewayMetricsSummary): GatewayMetricsSummary {
  return {
    requestsByServedBy: subtractTotals(before.requestsByServedBy, after.requestsByServedBy),
    fallbacks: after.fallbacks - before.fallbacks,
    gcSecondsByKind: subtractTotals(before.gcSecondsByKind, after.gcSecondsByKind),
    eventLoopLagMaxMs: after.eventLoopLagMaxMs
  }
}

function subtractTotals (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const differences = Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)])

  return Object.fromEntries(differences)
}
