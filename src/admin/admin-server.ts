import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Logger } from '../telemetry/logger.js'

export interface Readiness {
  /** False while the process drains for shutdown. */
  accepting: boolean
  redis: { reachable: boolean, since: number, lastSyncAt: number | undefined }
  percentages: Record<string, number>
}

export interface AdminServerOptions {
  logger: Logger
  registry: Registry
  readiness: () => Readiness
}

/**
 * The admin listener (127.0.0.1 by default), apart from live traffic:
 * liveness, readiness, Prometheus metrics, and the admin API.
 */
export function buildAdminServer (options: AdminServerOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: options.logger.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true })
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  // A Redis outage is reported, not turned into "not ready": every gateway
  // would leave the load balancer at once while all of them can still serve
  // with the percentages they know.
  app.get('/readyz', async (_request, reply) => {
    const report = options.readiness()
    const status = !report.accepting ? 'draining' : report.redis.reachable ? 'ready' : 'degraded'
    const redis = {
      reachable: report.redis.reachable,
      since: new Date(report.redis.since).toISOString(),
      lastSyncAt: report.redis.lastSyncAt === undefined ? null : new Date(report.redis.lastSyncAt).toISOString()
    }

    return await reply.code(report.accepting ? 200 : 503).send({ status, redis, percentages: report.percentages })
  })

  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics()
    return await reply.type(options.registry.contentType).send(body)
  })

  return app
}
