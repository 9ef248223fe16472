import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RedisClient } from '../store/redis-connection.js'
import type { Config } from '../config/schema.js'
import {
  SR_ERR_ADMIN_FAILED, SR_ERR_BAD_REQUEST, SR_ERR_NOT_FOUND, SR_ERR_STATE_UNAVAILABLE, ShadowrampError
} from '../errors.js'
import { createKeys } from '../store/keys.js'
import type { ApiContext } from './api-context.js'
import { alertRoutes } from './alert-routes.js'
import { commonErrors, tokenBody } from './api-schemas.js'
import { operatorRateLimit } from './operator-rate-limit.js'
import { rolloutRoutes } from './rollout-routes.js'
import { RouteCatalog } from './route-view.js'
import { timeseriesRoutes } from './timeseries-routes.js'
import { tokenAuth } from './token-auth.js'

export interface AdminApiOptions {
  config: Readonly<Config>
  /** A fail-fast connection: while Redis is away the API answers 503 at once. */
  redis: RedisClient
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
  await app.register(operatorRateLimit, { actionsPerMinute: config.admin.operatorActionsPerMinute, now })
  app.setErrorHandler(async (error: FastifyError, request, reply) => await answerError(error, request, reply, redis))
  app.setNotFoundHandler(async (request, reply) => {
    const error = new SR_ERR_NOT_FOUND(request.method, request.url.split('?')[0] ?? '')
    return await reply.code(404).send({ error: error.message, code: error.code })
  })

  app.get('/openapi.json', {
    schema: {
      summary: 'This document',
      tags: ['meta'],
      security: [{ bearerAuth: [] }],
      response: { 200: { type: 'object', additionalProperties: true }, ...commonErrors }
    }
  }, async () => app.swagger())

  // Lets the UI tell a read token from an operator token before any change is tried.
  app.get('/token', {
    schema: { summary: 'The token this request came with', tags: ['meta'], security: [{ bearerAuth: [] }], response: { 200: tokenBody, ...commonErrors } }
  }, async (request) => ({ name: request.adminToken?.name, role: request.adminToken?.role }))

  await app.register(rolloutRoutes, context)
  await app.register(timeseriesRoutes, context)
  await app.register(alertRoutes, context)
}

/**
 * Coded errors answer with their own status; Fastify's request errors
 * (validation, bad JSON, body too large) keep theirs; anything else is a
 * Redis outage while Redis is away (503, so a sender retries) and a fault
 * of ours otherwise. Only our faults are logged: the rollout watcher logs
 * an outage once, not once per request.
 */
async function answerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply, redis: RedisClient): Promise<FastifyReply> {
  const coded = toCodedError(error, redis)
  if (coded.statusCode === 500) request.log.error({ err: error, url: request.routeOptions.url }, 'admin request failed')

  return await reply.code(coded.statusCode).send({ error: coded.message, code: coded.code })
}

function toCodedError (error: FastifyError, redis: RedisClient): { statusCode: number, message: string, code: string } {
  if (error instanceof ShadowrampError) return error
  if (error.validation !== undefined) return new SR_ERR_BAD_REQUEST(error.message)

  const status = error.statusCode ?? 500
  if (status < 500) return { statusCode: status, message: error.message, code: error.code }
  if (redis.status !== 'ready') return new SR_ERR_STATE_UNAVAILABLE(`redis is unreachable (${error.message})`)

  return new SR_ERR_ADMIN_FAILED()
}
