import swagger from '@fastify/swagger'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Config } from '../config/schema.js'
import { connectRedis, waitUntilReady } from '../store/redis-connection.js'
import { heartbeatDeadlineMs } from '../store/redis-heartbeat.js'
import type { Logger } from '../telemetry/logger.js'
import { adminApi } from './admin-api.js'
import { uiRoutes } from './ui-assets.js'

export interface Readiness {
  /** False while the process drains for shutdown. */
  accepting: boolean
  /** What the rollout watcher knows of Redis: its connection and its heartbeat. */
  redis: { reachable: boolean, since: number, lastSyncAt: number | undefined }
  percentages: Record<string, number>
}

export interface AdminServerOptions {
  logger: Logger
  registry: Registry
  readiness: () => Readiness
  /** Routes, tokens and limits of the admin API. */
  config: Readonly<Config>
  /** The admin API's own Redis connection is made to this URL and closed with the server. */
  redisUrl: string
  now?: () => number
}

/** How long start-up waits for the admin API's Redis connection; requests answer 503 until it is up. */
const redisStartWaitMs = 1_000

/**
 * How long a command of the admin API may wait for its answer, in ms: the
 * patience the heartbeat has with a PING. The API's commands read a few
 * keys or run one short script, answered in milliseconds. This bounds the
 * first seconds of a freeze, before the heartbeat has noticed it: a
 * request that sent a command then answers 503 after this long instead of
 * waiting until Redis wakes.
 */
const commandTimeoutMs = heartbeatDeadlineMs

/**
 * The admin listener (127.0.0.1 by default), apart from live traffic:
 * liveness, readiness and Prometheus metrics, open to all (they carry no
 * secrets, and Prometheus scrapes /metrics without a token), the web UI
 * under /ui (open too: its pages carry no data), and the admin API under
 * /api, behind bearer tokens.
 */
export function buildAdminServer (options: AdminServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown fields are refused, not silently dropped: a misspelt
    // `percentage` must not read as a request without one.
    ajv: { customOptions: { removeAdditional: false } }
  })
  const redis = connectRedis(options.redisUrl, { connectionName: 'shadowramp-admin', commandTimeout: commandTimeoutMs })
  // The rollout watcher logs Redis outages; the API reports them as 503.
  redis.on('error', () => {})
  app.addHook('onReady', async () => { await waitUntilReady(redis, redisStartWaitMs) })
  app.addHook('onClose', async () => { redis.disconnect() })

  void app.register(swagger, { openapi: openapiDocument })
  // Inside a plugin, so they are added after @fastify/swagger has loaded and sees them.
  void app.register(async (open) => { addOpenRoutes(open, options) })
  void app.register(uiRoutes, {})
  void app.register(adminApi, {
    prefix: '/api',
    config: options.config,
    redis,
    redisHealth: () => options.readiness().redis,
    served: (route) => options.readiness().percentages[route],
    now: options.now
  })

  return app
}

const openapiDocument = {
  openapi: '3.0.3',
  info: {
    title: 'shadowramp admin API',
    version: '1',
    description: 'Rollout state, history and divergence of each route; manual actions; alert receivers. ' +
      'Every /api route needs `Authorization: Bearer <token>` (admin.tokens); changes need an operator token.'
  },
  components: {
    securitySchemes: { bearerAuth: { type: 'http' as const, scheme: 'bearer' } }
  }
}

function addOpenRoutes (app: FastifyInstance, options: AdminServerOptions): void {
  const healthBody = { type: 'object', properties: { status: { type: 'string' } } }
  app.get('/healthz', { schema: { summary: 'The process is up', tags: ['health'], response: { 200: healthBody } } }, async () => ({ status: 'ok' }))

  // A Redis outage is reported, not turned into "not ready": every gateway
  // would leave the load balancer at once while all of them can still serve
  // with the percentages they know.
  const readySchema = { summary: 'Ready, degraded (Redis away) or draining', tags: ['health'], response: { 200: readyBody, 503: readyBody } }
  app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
    const report = options.readiness()
    const status = !report.accepting ? 'draining' : report.redis.reachable ? 'ready' : 'degraded'
    const redis = {
      reachable: report.redis.reachable,
      since: new Date(report.redis.since).toISOString(),
      lastSyncAt: report.redis.lastSyncAt === undefined ? null : new Date(report.redis.lastSyncAt).toISOString()
    }

    return await reply.code(report.accepting ? 200 : 503).send({ status, redis, percentages: report.percentages })
  })

  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics (text exposition format)',
      tags: ['health'],
      produces: ['text/plain'],
      response: { 200: { type: 'string' } }
    }
  }, async (_request, reply) => {
    const body = await options.registry.metrics()
    return await reply.type(options.registry.contentType).send(body)
  })
}

const readyBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'degraded', 'draining'] },
    redis: {
      type: 'object',
      properties: { reachable: { type: 'boolean' }, since: { type: 'string' }, lastSyncAt: { type: ['string', 'null'] } }
    },
    percentages: { type: 'object', additionalProperties: { type: 'number' } }
  }
} as const
