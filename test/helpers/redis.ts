import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { answersPing, startPrivateRedis } from '../../src/store/redis-bootstrap.js'

let shared: Promise<string> | undefined

/**
 * The Redis the tests share: REDIS_URL, else the one at 127.0.0.1:6379,
 * else a private redis-server this test process starts. Each test keeps
 * to its own namespace, so test files can run in parallel.
 */
export async function testRedisUrl (): Promise<string> {
  shared ??= findRedis()
  return await shared
}

async function findRedis (): Promise<string> {
  if (process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '') return process.env.REDIS_URL
  if (await answersPing('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379'

  const { port, server } = await startPrivateRedis()
  process.stderr.write(`nothing answers at redis://127.0.0.1:6379: the tests started a private redis-server on port ${port} with persistence off\n`)
  server.unref()
  process.once('exit', () => server.kill())
  return `redis://127.0.0.1:${port}`
}

export function uniqueNamespace (label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`
}

/** Deletes every key of a namespace (keys are hash-tagged `{namespace}`). */
export async function dropNamespace (url: string, namespace: string): Promise<void> {
  const redis = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/**
 * A redis-server of the test's own, for what the shared one must not see
 * (paused, killed, reconfigured); woken and killed at teardown.
 */
export async function privateRedis (t: Test): Promise<{ url: string, server: ChildProcess }> {
  const { port, server } = await startPrivateRedis()
  t.teardown(() => { server.kill('SIGCONT'); server.kill('SIGKILL') })
  return { url: `redis://127.0.0.1:${port}`, server }
}

/** A plain connection for the test to inspect or reconfigure Redis with; closed at teardown. */
export function adminConnection (t: Test, url: string): Redis {
  const admin = new Redis(url)
  t.teardown(() => admin.disconnect())
  return admin
}
