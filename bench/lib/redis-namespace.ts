import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { namespacePattern } from '../../src/store/keys.js'

/** A namespace no one else uses, so a benchmark never touches others' keys. */
export function createBenchNamespace (): string {
  return `bench-${randomBytes(4).toString('hex')}`
}

/**
 * Deletes what a benchmark's gateway left in Redis (the gateway seeds its
 * rollout state on start). Best effort and bounded: when no Redis answers
 * at the URL, the gateway had started a private one that is gone already.
 */
export async function dropBenchNamespace (url: string, namespace: string, timeoutMs = 3_000): Promise<number> {
  if (!namespace.startsWith('bench-')) {
    throw new Error(`refusing to drop namespace ${namespace}: not a benchmark namespace`)
  }

  const redis = new Redis(url, {
    lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null
  })
  redis.on('error', () => {})
  const timer = setTimeout(() => redis.disconnect(), timeoutMs)
  try {
    await redis.connect()
    return await deleteMatching(redis, namespacePattern(namespace))
  } catch {
    return 0
  } finally {
    clearTimeout(timer)
    redis.disconnect()
  }
}

async function deleteMatching (redis: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await redis.del(...keys)
  } while (cursor !== '0')

  return deleted
}
