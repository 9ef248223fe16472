import { Cluster, type Redis } from 'ioredis'
import type { RedisClient } from './redis-connection.js'
import { namespacePattern } from './keys.js'

/** Deletes every key of a namespace; the demo starts from a clean slate with it. */
export async function dropNamespace (redis: RedisClient, namespace: string): Promise<number> {
  // A cluster holds the namespace on all its primaries: each is scanned.
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  let deleted = 0
  for (const node of nodes) deleted += await dropFromNode(node, namespacePattern(namespace))

  return deleted
}

async function dropFromNode (node: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)
    cursor = next
    // One key at a time: in a cluster, keys of several slots cannot share a command.
    for (const key of keys) deleted += await node.unlink(key)
  } while (cursor !== '0')

  return deleted
}
