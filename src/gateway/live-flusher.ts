import type { RedisClient } from '../store/redis-connection.js'
import type { Keys } from '../store/keys.js'
import { addLiveFigures } from '../store/live-figures.js'
import { connectRedis } from '../store/redis-connection.js'
import type { LiveCounter } from './live-counter.js'

/** About once a second: often enough for the controller, rare enough to cost nothing per request. */
const flushMs = 1_000

/**
 * Writes the live counter's figures to Redis about once a second, off the
 * live path. Counts that cannot be written (Redis away) are kept and
 * written with the next ones, within the counter's bound.
 */
export class LiveFlusher {
  readonly #counter: LiveCounter
  readonly #keys: Keys
  #redis: RedisClient | undefined
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined

  constructor (counter: LiveCounter, keys: Keys) {
    this.#counter = counter
    this.#keys = keys
  }

  start (redisUrl: string): void {
    this.#redis = connectRedis(redisUrl, { connectionName: 'shadowramp-live-figures' })
    this.#redis.on('error', () => {})
    this.#timer = setInterval(() => { void this.flush() }, flushMs)
    this.#timer.unref()
  }

  /** Writes what was counted so far; resolves when done (or put back). */
  async flush (): Promise<void> {
    if (this.#flushing !== undefined) return await this.#flushing

    this.#flushing = this.#write().finally(() => { this.#flushing = undefined })
    return await this.#flushing
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    this.#redis?.disconnect()
  }

  async #write (): Promise<void> {
    const taken = this.#counter.take()
    const redis = this.#redis
    if (taken.length === 0) return
    if (redis?.status !== 'ready') { this.#counter.restore(taken); return }

    const results = await Promise.allSettled(taken.map(async ({ route, bucket, figures }) => await addLiveFigures(redis, this.#keys, route, bucket, figures)))
    this.#counter.restore(taken.filter((_entry, index) => results[index]?.status === 'rejected'))
  }
}
