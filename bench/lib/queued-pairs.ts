import { Redis } from 'ioredis'
import { createKeys } from '../../src/store/keys.js'

/**
 * Empties the pair queues of benchmark gateways between phases. With
 * mirroring at 100% and no diff worker, a gateway writes tens of MB a
 * second to Redis; left there, the queue reaches its depth limit (and the
 * gateway starts dropping pairs instead of writing them) and Redis grows
 * by GBs over a run. Only pair data goes: the rollout state the gateway
 * reads stays.
 */
export class QueuedPairs {
  readonly #redis: Redis

  constructor (url: string) {
    this.#redis = new Redis(url, { connectTimeout: 2_000, commandTimeout: 10_000, maxRetriesPerRequest: 1 })
    this.#redis.on('error', () => {})
  }

  /** Deletes every batch, job and queue key of the namespace's pair queues; returns how many keys. */
  async drop (namespace: string, queueNames: string[]): Promise<number> {
    if (!namespace.startsWith('bench-')) throw new Error(`refusing to empty ${namespace}: not a benchmark namespace`)

    const keys = createKeys(namespace)
    const patterns = [
      keys.pairBatch('*'),
      ...queueNames.map((queue) => `${keys.queuePrefix}:${queue}:*`)
    ]
    let deleted = 0
    for (const pattern of patterns) deleted += await this.#unlinkMatching(pattern)

    return deleted
  }

  /** Jobs waiting in one of the namespace's BullMQ queues (no worker runs, so every job added). */
  async countWaiting (namespace: string, queueName: string): Promise<number> {
    return await this.#redis.llen(`${createKeys(namespace).queuePrefix}:${queueName}:wait`)
  }

  async close (): Promise<void> {
    this.#redis.disconnect()
  }

  /** UNLINK frees the large values off Redis's main thread. */
  async #unlinkMatching (pattern: string): Promise<number> {
    let cursor = '0'
    let deleted = 0
    do {
      const [next, found] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)
      cursor = next
      if (found.length > 0) deleted += await this.#redis.unlink(...found)
    } while (cursor !== '0')

    return deleted
  }
}
