import type { Transform } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { MirrorConfig, RouteConfig } from '../config/schema.js'
import type { LiveTap, Mirror } from '../gateway/mirror.js'
import { Upstream, type BackendName, type UpstreamRequest, type UpstreamResponse } from '../gateway/upstream.js'
import type { Logger } from '../telemetry/logger.js'
import { BodyCapture, readInto, tapStream } from './body-capture.js'
import { MirrorPolicy, type RateChange } from './mirror-policy.js'
import type { CapturedRequest, CapturedResponse, Pair } from './pair.js'
import { createRedactor, type Redactor } from './redaction.js'
import type { DropReason, QueueRefusal, ShadowMetrics, SkipReason } from './shadow-metrics.js'

/** Where finished pairs go (the batcher, in production). */
export interface PairSink {
  add: (pair: Pair) => void
  /**
   * Why no pair would be taken now, if so. Nothing is then mirrored: a
   * shadow request whose pair is bound to be dropped only loads the shadow
   * backend and this process.
   */
  refusal?: () => QueueRefusal | undefined
}

interface ShadowRoute {
  name: string
  config: MirrorConfig
  policy: MirrorPolicy
  redactor: Redactor
  /** Shadow requests have their own pools: a slow shadow never takes a live connection. */
  shadowTo: Record<BackendName, Upstream>
  repeatBaseline: Upstream
}

export interface ShadowMirrorOptions {
  routes: readonly RouteConfig[]
  maxBodyBytes: number
  sink: PairSink
  metrics: ShadowMetrics
  logger: Logger
  /** Told whenever a route's budget guard changes the rate it allows. */
  onRateChange?: (route: string, change: RateChange) => void
  /** While it says so, nothing is mirrored: the gateway's core is needed for live requests. */
  pressure?: { readonly strained: boolean }
  now?: () => number
}

type Leg = Promise<CapturedResponse>

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Mirrors sampled live requests to the backend that is not serving them,
 * and turns both answers into a pair. Everything here runs beside the live
 * request: the live path calls `begin` and `observe`, which never wait and
 * never throw, and a failing shadow backend only costs its own pair.
 */
export class ShadowMirror implements Mirror {
  readonly #routes = new Map<string, ShadowRoute>()
  readonly #options: ShadowMirrorOptions
  readonly #now: () => number

  constructor (options: ShadowMirrorOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    for (const route of options.routes) {
      if (route.mirror !== undefined) this.#routes.set(route.name, this.#createRoute(route, route.mirror))
    }
  }

  begin (routeName: string, request: UpstreamRequest, live: BackendName, requestId: string): LiveTap | undefined {
    const route = this.#routes.get(routeName)
    if (route === undefined) return undefined

    const standAside = this.#standAside()
    const admission = standAside === undefined
      ? route.policy.admit(request.method, this.#now())
      : route.policy.standAside(request.method, standAside)
    if (admission === 'not-sampled') return undefined
    if (admission !== 'mirror') {
      this.#options.metrics.skipped.inc({ route: routeName, reason: admission })
      return undefined
    }

    return this.#startSession(route, request, live, requestId)
  }

  #standAside (): SkipReason | undefined {
    if (this.#options.pressure?.strained === true) return 'gateway-busy'

    return this.#options.sink.refusal?.()
  }

  async close (): Promise<void> {
    const upstreams = [...this.#routes.values()].flatMap((route) => [route.shadowTo.baseline, route.shadowTo.candidate, route.repeatBaseline])
    await Promise.all(upstreams.map(async (upstream) => await upstream.close()))
  }

  #createRoute (route: RouteConfig, config: MirrorConfig): ShadowRoute {
    const pool = { timeoutMs: config.timeoutMs, connections: config.maxInFlight }
    const stickyHeader = route.stickyKey.startsWith('header:') ? route.stickyKey.slice('header:'.length).toLowerCase() : undefined
    let factorBefore = 1
    const onRateChange = (change: RateChange): void => {
      const { factor, reason } = change
      this.#options.onRateChange?.(route.name, change)
      this.#options.metrics.rateFactor.set({ route: route.name }, factor)
      // The start of a back-off is worth a warn; each further halving, and
      // the recovery, is news, not new trouble: a shadow backend that dies
      // would otherwise warn seven times per route on its way to 1/128.
      const level = factor < factorBefore && factorBefore === 1 ? 'warn' : 'info'
      factorBefore = factor
      this.#options.logger[level]({ route: route.name, factor, reason }, `shadow rate of ${route.name} at ${Math.round(factor * 1000) / 10}% of its sample rate: ${reason}`)
    }
    this.#options.metrics.rateFactor.set({ route: route.name }, 1)
    // Every mirrored route's counters exist from the start, at 0, so a
    // dashboard shows "none yet" rather than "no data".
    const { captured, enqueued, identical, tooLarge, bytesSaved } = this.#options.metrics
    for (const counter of [captured, enqueued, identical, tooLarge, bytesSaved]) counter.inc({ route: route.name }, 0)

    return {
      name: route.name,
      config,
      policy: new MirrorPolicy(config, this.#now(), onRateChange),
      redactor: createRedactor({ ...config, stickyHeader }),
      shadowTo: {
        baseline: new Upstream('baseline', { ...route.baseline, ...pool }),
        candidate: new Upstream('candidate', { ...route.candidate, ...pool })
      },
      repeatBaseline: new Upstream('baseline', { ...route.baseline, ...pool, url: config.repeatBaselineUrl ?? route.baseline.url })
    }
  }

  #startSession (route: ShadowRoute, request: UpstreamRequest, live: BackendName, requestId: string): LiveTap {
    const shadowSide: BackendName = live === 'baseline' ? 'candidate' : 'baseline'
    const shadowRequest = prepareShadowRequest(request, route.config, requestId)
    const shadowLeg = this.#sendShadow(route, route.shadowTo[shadowSide], shadowRequest, true)
    const repeat = safeMethods.has(request.method) && Math.random() * 100 < route.config.noiseSampleRate
    const repeatLeg = repeat ? this.#sendShadow(route, route.repeatBaseline, shadowRequest, false) : undefined
    const capturedAt = this.#now()
    const started = performance.now()
    let settled = false

    const drop = (reason: DropReason): void => {
      if (settled) return
      settled = true
      this.#options.metrics.dropped.inc({ route: route.name, reason })
    }
    const finish = (liveResponse: CapturedResponse): void => {
      if (settled) return
      settled = true
      void this.#completePair({ route, request, requestId, capturedAt, live, liveResponse, shadowLeg, repeatLeg })
    }

    return {
      observe: (response: UpstreamResponse, hasBody: boolean): Transform | undefined => {
        const latencyMs = performance.now() - started
        const capture = new BodyCapture(this.#options.maxBodyBytes)
        const headers = route.redactor.responseHeaders(response.headers)
        const captured = (): CapturedResponse => ({ status: response.statusCode, headers, latencyMs, ...capture.finish() })
        if (!hasBody) { finish(captured()); return undefined }

        return tapStream(capture, () => finish(captured()), () => drop('live-incomplete'))
      },
      abandon: (reason) => drop(reason)
    }
  }

  /** Sends one shadow request and reads its whole answer; never rejects. */
  async #sendShadow (route: ShadowRoute, upstream: Upstream, request: UpstreamRequest, counted: boolean): Leg {
    const started = performance.now()
    const labels = { route: route.name, backend: upstream.name }
    try {
      const response = await upstream.request(request)
      const latencyMs = performance.now() - started
      this.#options.metrics.shadowDuration.observe(labels, latencyMs / 1_000)
      const capture = new BodyCapture(this.#options.maxBodyBytes)
      await readInto(response.body, capture)
      // The guard judges the whole answer: a body that trickles in is as
      // slow as a late head, and a 5xx is the shadow backend failing.
      if (counted) route.policy.release(performance.now() - started, response.statusCode >= 500)
      return { status: response.statusCode, headers: route.redactor.responseHeaders(upstream.clientHeaders(response.headers)), latencyMs, ...capture.finish() }
    } catch (error) {
      const { kind } = upstream.translateError(error)
      if (counted) route.policy.release(performance.now() - started, true)
      this.#options.metrics.shadowErrors.inc({ ...labels, kind })
      return { status: 0, headers: {}, bodyBytes: 0, latencyMs: performance.now() - started, failure: kind }
    }
  }

  async #completePair (parts: {
    route: ShadowRoute
    request: UpstreamRequest
    requestId: string
    capturedAt: number
    live: BackendName
    liveResponse: CapturedResponse
    shadowLeg: Leg
    repeatLeg: Leg | undefined
  }): Promise<void> {
    const { route, live, liveResponse } = parts
    const shadowResponse = await parts.shadowLeg
    const baselineRepeat = await parts.repeatLeg
    const baseline = live === 'baseline' ? liveResponse : shadowResponse
    const candidate = live === 'candidate' ? liveResponse : shadowResponse
    const bodiesIdentical = haveIdenticalBodies(baseline, candidate)

    const pair: Pair = {
      id: parts.requestId,
      route: route.name,
      capturedAt: parts.capturedAt,
      live,
      request: captureRequest(parts.request, route),
      // With a repeat, the worker compares the baseline's two answers, so
      // the first one keeps its body even when the candidate's was equal.
      baseline: storedResponse(baseline, route.redactor, bodiesIdentical && baselineRepeat === undefined),
      candidate: storedResponse(candidate, route.redactor, bodiesIdentical),
      ...(baselineRepeat === undefined ? {} : { baselineRepeat: storedResponse(baselineRepeat, route.redactor, false) }),
      bodiesIdentical
    }
    this.#count(pair)
    this.#options.sink.add(pair)
  }

  #count (pair: Pair): void {
    const { metrics } = this.#options
    metrics.captured.inc({ route: pair.route })
    if (pair.bodiesIdentical) metrics.identical.inc({ route: pair.route })
    if (pair.baseline.tooLarge === true || pair.candidate.tooLarge === true) metrics.tooLarge.inc({ route: pair.route })
  }
}

/** The same request for the other backend, marked as a shadow request. */
function prepareShadowRequest (request: UpstreamRequest, config: MirrorConfig, requestId: string): UpstreamRequest {
  const headers = { ...request.headers }
  for (const name of config.removeHeaders) delete headers[name]
  Object.assign(headers, config.addHeaders)
  headers['x-shadowramp-request-id'] = requestId

  return { ...request, headers }
}

function captureRequest (request: UpstreamRequest, route: ShadowRoute): CapturedRequest {
  const queryAt = request.path.indexOf('?')
  const path = queryAt === -1 ? request.path : request.path.slice(0, queryAt)
  const query = route.redactor.query(queryAt === -1 ? '' : request.path.slice(queryAt + 1))
  const captured: CapturedRequest = { method: request.method, path, query, headers: route.redactor.requestHeaders(request.headers) }
  if (request.body === undefined || safeMethods.has(request.method)) return captured

  const redactedBody = route.redactor.body(request.body, captured.headers)
  return redactedBody === undefined ? { ...captured, body: request.body } : { ...captured, ...bodyOf(redactedBody) }
}

function haveIdenticalBodies (baseline: CapturedResponse, candidate: CapturedResponse): boolean {
  if (baseline.failure !== undefined || candidate.failure !== undefined || baseline.status !== candidate.status) return false
  if (baseline.bodyDigest !== undefined || candidate.bodyDigest !== undefined) return baseline.bodyDigest === candidate.bodyDigest

  return baseline.body !== undefined && candidate.body !== undefined && baseline.body.equals(candidate.body)
}

/**
 * What is kept of an answer: redacted, and without its body when both
 * bodies were equal (the worker needs nothing more to call them identical).
 */
function storedResponse (response: CapturedResponse, redactor: Redactor, bodiesIdentical: boolean): CapturedResponse {
  const { body, ...rest } = response
  if (body === undefined || bodiesIdentical) return rest

  const redactedBody = redactor.body(body, response.headers)
  return redactedBody === undefined ? { ...rest, body } : { ...rest, ...bodyOf(redactedBody) }
}

/** A body that could not be redacted as configured is withheld, never stored as it came. */
function bodyOf (redacted: { body?: Buffer, headers: Record<string, string> }): { body?: Buffer, headers: Record<string, string>, withheld?: true } {
  return redacted.body === undefined ? { headers: redacted.headers, withheld: true } : { body: redacted.body, headers: redacted.headers }
}
