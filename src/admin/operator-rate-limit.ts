import type { FastifyInstance } from 'fastify'
import { SR_ERR_RATE_LIMITED } from '../errors.js'
import type { AdminToken } from './token-auth.js'

export interface TokenBucketOptions {
  /** Actions allowed in a burst, and per `periodMs` on average. */
  capacity: number
  periodMs: number
  now?: () => number
}

export type Take = { allowed: true } | { allowed: false, retryAfterMs: number }

/**
 * One token bucket per key: a key may act `capacity` times at once, and
 * regains one action every `periodMs / capacity`. Keys are token names,
 * so the map is as large as the configured token list and no larger.
 */
export class TokenBuckets {
  readonly #capacity: number
  readonly #refillPerMs: number
  readonly #now: () => number
  readonly #buckets = new Map<string, { level: number, at: number }>()

  constructor (options: TokenBucketOptions) {
    this.#capacity = options.capacity
    this.#refillPerMs = options.capacity / options.periodMs
    this.#now = options.now ?? Date.now
  }

  take (key: string): Take {
    const now = this.#now()
    const bucket = this.#buckets.get(key) ?? { level: this.#capacity, at: now }
    const level = Math.min(this.#capacity, bucket.level + (now - bucket.at) * this.#refillPerMs)
    if (level < 1) {
      this.#buckets.set(key, { level, at: now })
      return { allowed: false, retryAfterMs: Math.ceil((1 - level) / this.#refillPerMs) }
    }

    this.#buckets.set(key, { level: level - 1, at: now })
    return { allowed: true }
  }
}

export interface OperatorRateLimitOptions {
  actionsPerMinute: number
  now?: () => number
}

/**
 * Limits the changes each operator token makes: a script gone wrong
 * cannot flip a rollout back and forth faster than people can follow.
 * Rollbacks are exempt (routes marked `unlimited`): they only move
 * traffic back to the baseline, and are what an incident needs most.
 * Runs after validation, so a malformed request costs no action.
 */
export async function operatorRateLimit (app: FastifyInstance, options: OperatorRateLimitOptions): Promise<void> {
  const buckets = new TokenBuckets({ capacity: options.actionsPerMinute, periodMs: 60_000, now: options.now })

  app.addHook('preHandler', async (request, reply) => {
    const config = request.routeOptions.config
    const token: AdminToken | undefined = request.adminToken
    if (config.access !== 'operator' || config.unlimited === true || token === undefined) return

    const taken = buckets.take(token.name)
    if (taken.allowed) return

    const retryAfterS = Math.ceil(taken.retryAfterMs / 1_000)
    const error = new SR_ERR_RATE_LIMITED(token.name, options.actionsPerMinute, retryAfterS)
    request.log.warn({ tokenName: token.name, url: request.routeOptions.url, retryAfterS }, 'operator action rate limited')
    return await reply.code(error.statusCode).header('retry-after', String(retryAfterS)).send({ error: error.message, code: error.code })
  })
}

Object.defineProperty(operatorRateLimit, Symbol.for('skip-override'), { value: true })
