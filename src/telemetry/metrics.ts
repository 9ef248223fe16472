import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Latency buckets in seconds, from 1 ms to 10 s. */
export const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The live path's metrics. Each gateway owns a registry, so several
 * gateways can run in one process (tests do) without name clashes.
 */
export interface GatewayMetrics {
  registry: Registry
  requests: Counter<'route' | 'served_by' | 'status_class'>
  requestDuration: Histogram<'route' | 'served_by'>
  backendDuration: Histogram<'route' | 'backend'>
  backendAttempts: Counter<'route' | 'backend' | 'result'>
  fallbacks: Counter<'route' | 'from' | 'reason'>
  percentage: Gauge<'route'>
  redisUp: Gauge
  clientAborts: Counter
  clientErrors: Counter<'kind'>
}

export function createRegistry (withProcessMetrics = true): Registry {
  const registry = new Registry()
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'shadowramp_' })

  return registry
}

export function createGatewayMetrics (registry: Registry): GatewayMetrics {
  const registers = [registry]

  return {
    registry,
    requests: new Counter({
      name: 'shadowramp_requests_total',
      help: 'Live requests answered, by route, by who served them and by status class.',
      labelNames: ['route', 'served_by', 'status_class'],
      registers
    }),
    requestDuration: new Histogram({
      name: 'shadowramp_request_duration_seconds',
      help: 'Live request latency as the client sees it, until the response head is sent.',
      labelNames: ['route', 'served_by'],
      buckets: latencyBuckets,
      registers
    }),
    backendDuration: new Histogram({
      name: 'shadowramp_backend_duration_seconds',
      help: 'Time each backend took to answer a live request with its response head.',
      labelNames: ['route', 'backend'],
      buckets: latencyBuckets,
      registers
    }),
    backendAttempts: new Counter({
      name: 'shadowramp_backend_attempts_total',
      help: 'Live requests sent to each backend, each attempt of the fallback chain counted, by result: answered, or failed (refused, reset, timed out, 5xx or a configured status).',
      labelNames: ['route', 'backend', 'result'],
      registers
    }),
    fallbacks: new Counter({
      name: 'shadowramp_fallbacks_total',
      help: 'Live requests moved down the fallback chain, by the backend that failed and why.',
      labelNames: ['route', 'from', 'reason'],
      registers
    }),
    percentage: new Gauge({
      name: 'shadowramp_rollout_percentage',
      help: 'Share of the route\'s live requests that the candidate serves, as this gateway knows it.',
      labelNames: ['route'],
      registers
    }),
    redisUp: new Gauge({
      name: 'shadowramp_redis_up',
      help: '1 while this process reaches Redis, 0 while it serves from the last state it knew.',
      registers
    }),
    clientAborts: new Counter({
      name: 'shadowramp_client_aborts_total',
      help: 'Live responses cut off because the client went away before the whole body was sent.',
      registers
    }),
    clientErrors: new Counter({
      name: 'shadowramp_client_errors_total',
      help: 'Requests refused before routing: malformed, ambiguous body length, head too large, too slow.',
      labelNames: ['kind'],
      registers
    })
  }
}

export function statusClass (status: number): string {
  return `${Math.floor(status / 100)}xx`
}

/** One route's live metrics, with the labelled series looked up once each. */
export interface RouteMetrics {
  answered: (servedBy: string, status: number, seconds: number) => void
  attempted: (backend: string, failed: boolean, seconds: number | undefined) => void
  fellBack: (from: string, reason: string) => void
}

/**
 * Binds a route's series as they are first used. prom-client hashes the
 * label set on every call otherwise, several times per live request.
 */
export function bindRouteMetrics (metrics: GatewayMetrics, route: string): RouteMetrics {
  const series = new Map<string, { inc: (value?: number) => void } & { observe?: (value: number) => void }>()
  const bound = <T>(key: string, bind: () => T): T => {
    let found = series.get(key) as T | undefined
    if (found === undefined) {
      found = bind()
      series.set(key, found as never)
    }
    return found
  }

  return {
    answered: (servedBy, status, seconds) => {
      const statusClassName = statusClass(status)
      bound(`requests ${servedBy} ${statusClassName}`, () => metrics.requests.labels({ route, served_by: servedBy, status_class: statusClassName })).inc()
      bound(`duration ${servedBy}`, () => metrics.requestDuration.labels({ route, served_by: servedBy })).observe(seconds)
    },
    attempted: (backend, failed, seconds) => {
      const result = failed ? 'failed' : 'answered'
      bound(`attempts ${backend} ${result}`, () => metrics.backendAttempts.labels({ route, backend, result })).inc()
      if (seconds !== undefined) bound(`backend ${backend}`, () => metrics.backendDuration.labels({ route, backend })).observe(seconds)
    },
    fellBack: (from, reason) => {
      bound(`fallbacks ${from} ${reason}`, () => metrics.fallbacks.labels({ route, from, reason })).inc()
    }
  }
}
