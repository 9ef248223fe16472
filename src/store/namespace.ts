import type { Redis } from 'ioredis'
import { namespacePattern } from './keys.js'

/** Deletes every key of a namespace; the demo starts from a clean slate with it. */
export async function dropNamespace (redis: Redis, namespace: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', namespacePattern(namespace), 'COUNT', 1_000)
    cursor = next
    if (keys.length > 0) deleted += await redis.unlink(...keys)
  } while (cursor !== '0')

  return deleted
}
