import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Transform, type Readable } from 'node:stream'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify'
import type { Counter } from 'prom-client'
import type { Config } from '../config/schema.js'
import { SR_ERR_BAD_PATH, SR_ERR_BODY_TOO_LARGE, SR_ERR_NO_ROUTE, ShadowrampError } from '../errors.js'
import type { Logger } from '../telemetry/logger.js'
import { bindRouteMetrics, type GatewayMetrics } from '../telemetry/metrics.js'
import { chooseBackend, readForcedBackend } from './backend-choice.js'
import { BackendHealthLog } from './backend-health-log.js'
import { createClientErrorHandler } from './client-errors.js'
import { lastGoodKey, releaseBody, runFallbackChain, type ChainObserver, type LiveAnswer } from './fallback-chain.js'
import type { StoredResponse } from './fallback-content.js'
import { forwardRequestHeaders, forwardResponseHeaders } from './headers.js'
import { closeLiveRoute, createLiveRoute, type LiveRoute } from './live-route.js'
import type { LiveCounter } from './live-counter.js'
import type { LiveTap, Mirror } from './mirror.js'
import type { UpstreamRequest, UpstreamResponse } from './upstream.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The configured route a live path belongs to, for the access line. */
    routeName?: string
  }
}

/** Where the gateway learns each route's current percentage. */
export interface PercentageSource {
  percentageOf: (route: string) => number
}

export interface GatewayOptions {
  config: Readonly<Config>
  percentages: PercentageSource
  metrics: GatewayMetrics
  logger: Logger
  /** Log every request (Fastify's request logging); on unless turned off. */
  logRequests?: boolean
  /** Shadow traffic; the live path only ever calls it without waiting. */
  mirror?: Mirror
  /** Counts the figures the rollout controller judges the candidate by. */
  counter?: LiveCounter
}

const proxiedMethods: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * `..` or `.` as a whole segment, plain or percent-encoded, or a backslash.
 * An encoded slash counts as a separator here: a backend that decodes it
 * before normalising would otherwise see `../` where we saw none.
 */
const dotSegment = /(^|\/|%2f)(\.|%2e){1,2}(\/|%2f|$)|\\|%5c/i

/**
 * The public listener: every configured path pattern proxied to the
 * backend its sticky bucket picks, down the fallback chain on failure.
 * Nothing else answers here; health and metrics live on the admin listener.
 */
export function buildGateway (options: GatewayOptions): FastifyInstance {
  const { config, logger } = options
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new GatewayLogController(options.logRequests !== false, logger.isLevelEnabled('info'), () => options.metrics.clientAborts.inc()),
    bodyLimit: config.maxRequestBodyBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    rewriteUrl: toOriginForm,
    return503OnClosing: true,
    requestTimeout: config.limits.requestTimeoutMs,
    // The server looks for clients past their time once a second (Node's default is every 30 s).
    http: { maxHeaderSize: config.limits.maxHeaderBytes, headersTimeout: config.limits.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
    clientErrorHandler: createClientErrorHandler(logger, options.metrics.clientErrors),
    // A path with an escape that cannot be decoded: Fastify's own answer
    // would echo the whole URL, query string included.
    frameworkErrors: (_error, request, reply) => {
      refuse(request, reply, options.metrics.clientErrors, 'bad-url', new SR_ERR_BAD_PATH('it holds a %-escape that does not decode'))
    }
  })
  const routes = config.routes.map(createLiveRoute)
  const forceHeader = config.forceHeader.enabled ? config.forceHeader.name.toLowerCase() : undefined

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  for (const route of routes) {
    const handler = createLiveHandler(route, options, forceHeader)
    for (const url of route.config.paths) app.route({ method: proxiedMethods, url, handler, config: { routeName: route.config.name } })
  }

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(new SR_ERR_NO_ROUTE(withoutQuery(request.url))))
  })
  app.setErrorHandler((error: Error & { statusCode?: number, code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      refuse(request, reply, options.metrics.clientErrors, 'body-too-large', new SR_ERR_BODY_TOO_LARGE(config.maxRequestBodyBytes))
      return
    }
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'live request failed')
    void reply.code(status).send(errorBody(error))
  })
  app.addHook('onClose', async () => { await Promise.all(routes.map(closeLiveRoute)) })

  return app
}

/** A body cut off because the client went away: routine, not a fault. */
const clientGone = new Set(['UND_ERR_ABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE'])

/**
 * One access line per live request, written when it completes, with who
 * served it; the "incoming request" line is left to debug. A client that
 * leaves mid-body is counted and logged at debug, not warned about once
 * per request.
 */
class GatewayLogController extends LogController {
  readonly #onClientGone: () => void
  /** Below info, an access line would be built for nothing on every request. */
  readonly #infoEnabled: boolean

  constructor (enabled: boolean, infoEnabled: boolean, onClientGone: () => void) {
    super({ disableRequestLogging: !enabled })
    this.#infoEnabled = infoEnabled
    this.#onClientGone = onClientGone
  }

  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ method: request.method, path: withoutQuery(request.url) }, 'incoming request')
  }

  /**
   * The access line says what was asked and who answered. The path goes
   * without its query string, which may carry a token or a key.
   */
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const failed = error !== null && error !== undefined
    if (this.isLogDisabled(request) || (!failed && !this.#infoEnabled)) return

    const line = {
      route: request.routeOptions.config.routeName,
      method: request.method,
      path: withoutQuery(request.url),
      status: reply.statusCode,
      servedBy: reply.getHeader('x-served-by'),
      ms: Math.round(reply.elapsedTime * 100) / 100
    }
    if (failed) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }

  override streamError (error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
    const gone = request.raw.destroyed || clientGone.has(error.code ?? '')
    if (!gone) { super.streamError(error, request, reply); return }

    this.#onClientGone()
    reply.log.debug({ err: error }, 'client went away before the whole body was sent')
  }
}

/**
 * A request the gateway turns down before any backend: answered with its
 * own code, logged at info and counted by kind, as the HTTP parser's
 * refusals are (client-errors.ts).
 */
function refuse (request: FastifyRequest, reply: FastifyReply, refused: Counter<'kind'>, kind: string, error: ShadowrampError): void {
  refused.inc({ kind })
  request.log.info({ kind, path: withoutQuery(request.url) }, `refused a request: ${error.message}`)
  void reply.code(error.statusCode).send(errorBody(error))
}

/** A URL as logged: without its query string, which may carry a token. */
function withoutQuery (url: string): string {
  const queryAt = url.indexOf('?')
  return queryAt === -1 ? url : url.slice(0, queryAt)
}

function createLiveHandler (route: LiveRoute, options: GatewayOptions, forceHeader: string | undefined) {
  const { percentages, counter } = options
  const recorded = bindRouteMetrics(options.metrics, route.name)
  const health = new BackendHealthLog(route.name, options.logger)
  const observer: ChainObserver = {
    onAttempt: (backend, failed, seconds) => {
      recorded.attempted(backend, failed, seconds)
      counter?.attempted(route.name, backend, failed, seconds)
      health.attempted(backend, failed)
    },
    onFallback: (from, reason) => {
      recorded.fellBack(from, reason)
      counter?.fellBack(route.name, from)
      health.fellBack(from, reason)
    }
  }

  return async function serveLive (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const started = performance.now()
    const path = request.url
    const queryAt = path.indexOf('?')
    const pathOnly = queryAt === -1 ? path : path.slice(0, queryAt)
    if (dotSegment.test(pathOnly)) throw new SR_ERR_BAD_PATH(pathOnly)

    const headers = request.headers
    const key = route.readStickyKey(headers, request.ip)
    const forced = readForcedBackend(headers, forceHeader)
    const choice = chooseBackend(route.name, key, percentages.percentageOf(route.name), forced)
    const upstreamRequest = buildUpstreamRequest(request, path)
    const tap = options.mirror?.begin(route.name, upstreamRequest, choice.backend, request.id)

    const answer = await runFallbackChain(route, choice.backend, upstreamRequest, observer)

    const servedBy = answer.kind === 'upstream' ? answer.servedBy : 'fallback'
    if (servedBy !== choice.backend) tap?.abandon('live-fell-back')
    const status = sendAnswer(route, upstreamRequest, answer, reply, servedBy === choice.backend ? tap : undefined)
    recorded.answered(servedBy, status, (performance.now() - started) / 1_000)

    return reply
  }
}

function buildUpstreamRequest (request: FastifyRequest, path: string): UpstreamRequest {
  const body = Buffer.isBuffer(request.body) ? request.body : undefined
  const headers = forwardRequestHeaders(request.headers, {
    clientAddress: request.ip,
    protocol: request.protocol,
    host: request.headers.host,
    requestId: firstHeader(request.headers['x-request-id']) ?? request.id
  }, body?.length)

  return { method: request.method, path, headers, body }
}

/** Sends the chain's answer and returns the status the client gets. */
function sendAnswer (route: LiveRoute, request: UpstreamRequest, answer: LiveAnswer, reply: FastifyReply, tap: LiveTap | undefined): number {
  if (answer.kind === 'error') {
    reply.header('x-served-by', 'fallback').code(answer.error.statusCode).send(errorBody(answer.error))
    return answer.error.statusCode
  }
  if (answer.kind === 'stored') {
    sendStored(answer.response, reply)
    return answer.response.status
  }

  sendUpstream(route, request, answer.servedBy, answer.response, reply, tap)
  return answer.response.statusCode
}

function sendUpstream (route: LiveRoute, request: UpstreamRequest, servedBy: string, response: UpstreamResponse, reply: FastifyReply, tap: LiveTap | undefined): void {
  const upstream = servedBy === 'candidate' ? route.candidate : route.baseline
  const headers = upstream.clientHeaders(response.headers)
  reply.code(response.statusCode).headers(forwardResponseHeaders(headers)).header('x-served-by', servedBy)
  // The pair keeps the answer as the client got it, so that the two
  // backends' own addresses do not show as a difference between them.
  const seen = headers === response.headers ? response : { ...response, headers }

  const bodiless = request.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304
  if (bodiless) {
    releaseBody(response)
    tap?.observe(seen, false)
    reply.send()
    return
  }

  const observers = [rememberIfGood(route, request, response), tap?.observe(seen, true)]
    .filter((observer): observer is Transform => observer !== undefined)
  if (observers.length === 0) {
    reply.send(response.body)
    return
  }

  reply.send(throughObservers(response.body, observers))
}

/**
 * Pipes a backend's body through observers that copy what passes. Not
 * stream.pipeline: it costs an AbortController and a DOMException on every
 * response, measurable at thousands a second. What pipeline gave is wired
 * here: a body that breaks off breaks the stream the client reads, and a
 * client that goes away destroys the backend's body, so that its
 * connection is not held until the body timeout.
 */
function throughObservers (body: Readable, observers: Transform[]): Readable {
  const streams: Readable[] = [body, ...observers]
  const tail = streams.reduce((from, to) => from.pipe(to as Transform))
  const destroyAll = (error?: Error): void => {
    for (const stream of streams) if (!stream.destroyed) stream.destroy(error)
  }
  body.once('error', destroyAll)
  tail.once('close', () => { if (!body.readableEnded) destroyAll() })

  return tail
}

function sendStored (stored: StoredResponse, reply: FastifyReply): void {
  reply.code(stored.status).header('x-served-by', 'fallback').header('x-fallback-source', stored.source)
  if (stored.contentType !== undefined) reply.header('content-type', stored.contentType)
  if (stored.contentEncoding !== undefined) reply.header('content-encoding', stored.contentEncoding)

  reply.send(stored.body)
}

/**
 * Now and then, a pass-through that keeps a copy of the body as the path's
 * last good response. Most responses pass straight through without one.
 */
function rememberIfGood (route: LiveRoute, request: UpstreamRequest, response: UpstreamResponse): Transform | undefined {
  const cache = route.lastGood
  const key = lastGoodKey(request)
  const good = request.method === 'GET' && response.statusCode >= 200 && response.statusCode < 300
  if (cache === undefined || !good || !cache.wantsCopy(key)) return undefined

  const chunks: Buffer[] = []
  let size = 0
  let stored = false
  const tee = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      size += chunk.length
      if (size <= cache.maxBodyBytes) chunks.push(chunk)
      callback(null, chunk)
    },
    flush (callback) {
      stored = size <= cache.maxBodyBytes
      if (stored) {
        cache.store(key, {
          status: response.statusCode,
          contentType: firstHeader(response.headers['content-type']),
          contentEncoding: firstHeader(response.headers['content-encoding']),
          body: Buffer.concat(chunks, size),
          storedAt: Date.now()
        })
      }
      callback()
    }
  })
  tee.once('close', () => { if (!stored) cache.abandon(key) })

  return tee
}

/**
 * A request line in absolute form (`GET http://other-host/x`) is routed by
 * its path alone: the host it names is never dialled.
 */
function toOriginForm (raw: IncomingMessage): string {
  const url = raw.url ?? '/'
  if (url.startsWith('/')) return url
  if (!URL.canParse(url)) return '/'

  const parsed = new URL(url)
  return parsed.pathname + parsed.search
}

function errorBody (error: Error & { code?: string }): { error: string, code: string | undefined } {
  return { error: error.message, code: error instanceof ShadowrampError ? error.code : error.code }
}

function firstHeader (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
