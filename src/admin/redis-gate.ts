import type { FastifyInstance } from 'fastify'
import { SR_ERR_STATE_UNAVAILABLE } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answers without Redis (the API's own description, the caller's token), so served while Redis is away. */
    withoutRedis?: boolean
  }
}

export interface RedisGateOptions {
  /** Whether Redis answers now, and since when (epoch ms) it has or has not. */
  health: () => { reachable: boolean, since: number }
}

/**
 * Answers 503 at once, before any command is sent, while the rollout
 * watcher hears nothing from Redis (connection lost, or its PING
 * unanswered). A command written to a stopped Redis waits for its timeout
 * and may still run when Redis wakes, long after its sender was told it
 * failed: an alert's rollback would be applied behind the back of an
 * Alertmanager already sending it again. Refused here, nothing reaches
 * Redis, and the sender's retry is the only write.
 *
 * Runs after validation and before the operator rate limit, so a refused
 * change costs no action.
 */
export async function redisGate (app: FastifyInstance, options: RedisGateOptions): Promise<void> {
  app.addHook('preHandler', async (request) => {
    if (request.is404 || request.routeOptions.config.withoutRedis === true) return
    const { reachable, since } = options.health()
    if (reachable) return

    const sinceText = new Date(since).toISOString()
    throw new SR_ERR_STATE_UNAVAILABLE(`redis is unreachable since ${sinceText}; nothing was read or changed: send the request again once it answers`)
  })
}

Object.defineProperty(redisGate, Symbol.for('skip-override'), { value: true })
