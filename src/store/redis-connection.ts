import { Cluster, Redis, type RedisOptions } from 'ioredis'

/** A single Redis or a Redis Cluster: every key operation here works on both. */
export type RedisClient = Redis | Cluster

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

/**
 * Connects to the Redis a URL names. A URL listing several nodes,
 * `redis://host1:7000,host2:7000,host3:7000`, means a Redis Cluster, with
 * any credentials given on the first node.
 */
export function connectRedis (url: string, options: RedisOptions = {}): RedisClient {
  const settings = { ...failFastOptions, ...options }
  const cluster = parseClusterUrl(url)
  if (cluster === undefined) return new Redis(url, settings)

  const { enableOfflineQueue, ...redisOptions } = { ...settings, ...cluster.credentials }
  return new Cluster(cluster.nodes, {
    enableOfflineQueue,
    redisOptions,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    slotsRefreshTimeout: 2_000
  })
}

export function isClusterUrl (url: string): boolean {
  return parseClusterUrl(url) !== undefined
}

function parseClusterUrl (url: string): { nodes: Array<{ host: string, port: number }>, credentials: { username?: string, password?: string } } | undefined {
  const match = /^rediss?:\/\/(?:([^@/]*)@)?([^/?]+)/.exec(url)
  const hosts = match?.[2]?.split(',') ?? []
  if (hosts.length < 2) return undefined

  const nodes = hosts.map((host) => {
    const [name, port] = host.split(':')
    return { host: name ?? '127.0.0.1', port: Number(port ?? 6379) }
  })
  const [username, password] = (match?.[1] ?? '').split(':').map(decodeURIComponent)
  const credentials = {
    ...(username === undefined || username === '' ? {} : { username }),
    ...(password === undefined || password === '' ? {} : { password })
  }

  return { nodes, credentials }
}

/** Waits until the connection is ready, or gives up after the timeout. */
export async function waitUntilReady (redis: RedisClient, timeoutMs: number): Promise<boolean> {
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

/**
 * Whether a command failed for getting no answer within the connection's
 * `commandTimeout`. ioredis gives such an error no code or name of its
 * own, only this message.
 */
export function isCommandTimeout (error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out'
}
