import { Redis, type RedisOptions } from 'ioredis'

/**
 * Options for connections that sit near the live path: commands fail at
 * once while Redis is away instead of queueing, and reconnects back off to
 * at most one attempt a second.
 */
export const failFastOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  lazyConnect: false
}

export function connectRedis (url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { ...failFastOptions, ...options })
}

/** Waits until the connection is ready, or gives up after the timeout. */
export async function waitUntilReady (redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true

  return await new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs)
    const onReady = (): void => finish(true)
    function finish (ready: boolean): void {
      clearTimeout(timer)
      redis.off('ready', onReady)
      resolve(ready)
    }
    redis.on('ready', onReady)
  })
}
