import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isCommandTimeout, type RedisClient } from '../store/redis-connection.js'
import type { Config } from '../config/schema.js'
import {
  SR_ERR_ADMIN_FAILED, SR_ERR_BAD_REQUEST, SR_ERR_NOT_FOUND, SR_ERR_STATE_UNAVAILABLE, ShadowrampError
} from '../errors.js'
import { createKeys } from '../store/keys.js'
import type { ApiContext } from './api-context.js'
import { alertRoutes } from './alert-routes.js'
import { commonErrors, tokenBody } from './api-schemas.js'
import { operatorRateLimit } from './operator-rate-limit.js'
import { redisGate } from './redis-gate.js'
import { rolloutRoutes } from './rollout-routes.js'
import { RouteCatalog } from './route-view.js'
import { timeseriesRoutes } from './timeseries-routes.js'
import { tokenAuth } from './token-auth.js'

export interface AdminApiOptions {
  config: Readonly<Config>
  /**
   * A fail-fast connection with a `commandTimeout`: while Redis is away the
   * API answers 503 at once, and a command that got no answer in time
   * answers 503 too.
   */
  redis: RedisClient
  /**
   * What the rollout watcher knows of Redis. While it says unreachable,
   * requests that need Redis answer 503 without sending it anything.
   */
  redisHealth: () => { reachable: boolean, since: number }
  /** The percentage this process serves a route with, if it serves it. */
  served: (route: string) => number | undefined
  now?: () => number
}

/**
 * The admin API, registered under /api: every route needs a bearer token,
 * changes need an operator token and are rate limited per token.
 */
export async function adminApi (app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { config, redis } = options
  const now = options.now ?? Date.now
  const catalog = new RouteCatalog(config.routes)
  const context: ApiContext = { catalog, redis, keys: createKeys(config.redis.namespace), now, served: options.served }

  await app.register(tokenAuth, { tokens: config.admin.tokens })
  await app.register(redisGate, { health: options.redisHealth })
  await app.register(operatorRateLimit, { actionsPerMinute: config.admin.operatorActionsPerMinute, now })
  app.setErrorHandler(async (error: FastifyError, request, reply) => await answerError(error, request, reply, redis))
  app.setNotFoundHandler(async (request, reply) => {
    const error = new SR_ERR_NOT_FOUND(request.method, request.url.split('?')[0] ?? '')
    return await reply.code(404).send({ error: error.message, code: error.code })
  })

  app.get('/openapi.json', {
    config: { withoutRedis: true },
    schema: {
      summary: 'This document',
      tags: ['meta'],
      security: [{ bearerAuth: [] }],
      response: { 200: { type: 'object', additionalProperties: true }, ...commonErrors }
    }
  }, async () => app.swagger())

  // Lets the UI tell a read token from an operator token before any change is tried.
  app.get('/token', {
    config: { withoutRedis: true },
    schema: { summary: 'The token this request came with', tags: ['meta'], security: [{ bearerAuth: [] }], response: { 200: tokenBody, ...commonErrors } }
  }, async (request) => ({ name: request.adminToken?.name, role: request.adminToken?.role }))

  await app.register(rolloutRoutes, context)
  await app.register(timeseriesRoutes, context)
  await app.register(alertRoutes, context)
}

/**
 * Coded errors answer with their own status; Fastify's request errors
 * (validation, bad JSON, body too large) keep theirs; anything else is a
 * Redis outage when a command got no answer in time or while Redis is
 * away (503, so a sender retries) and a fault of ours otherwise. Only our
 * faults are logged: the rollout watcher logs an outage once, not once per
 * request.
 */
async function answerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply, redis: RedisClient): Promise<FastifyReply> {
  const coded = toCodedError(error, request.method, redis)
  if (coded.statusCode === 500) request.log.error({ err: error, url: request.routeOptions.url }, 'admin request failed')

  return await reply.code(coded.statusCode).send({ error: coded.message, code: coded.code })
}

function toCodedError (error: FastifyError, method: string, redis: RedisClient): { statusCode: number, message: string, code: string } {
  if (error instanceof ShadowrampError) return error
  if (error.validation !== undefined) return new SR_ERR_BAD_REQUEST(error.message)

  const status = error.statusCode ?? 500
  if (status < 500) return { statusCode: status, message: error.message, code: error.code }
  if (isCommandTimeout(error)) return new SR_ERR_STATE_UNAVAILABLE(describeTimeout(method))
  if (redis.status !== 'ready') return new SR_ERR_STATE_UNAVAILABLE(`redis is unreachable (${error.message})`)

  return new SR_ERR_ADMIN_FAILED()
}

/**
 * A command that timed out was written to Redis and may still run when it
 * wakes: a change its sender was told failed can be applied after all, so
 * the sender of a change is told to look before sending it again.
 */
function describeTimeout (method: string): string {
  const why = 'redis is unreachable (no answer in time)'
  if (method === 'GET') return why

  return `${why}; the change may still be applied when Redis answers: look at the route before sending it again`
}
