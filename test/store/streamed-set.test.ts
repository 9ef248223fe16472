import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { connectRedis } from '../../src/store/redis-connection.js'
import { setParts } from '../../src/store/streamed-set.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

async function connect (t: Test): Promise<{ redis: Redis, namespace: string }> {
  const url = await testRedisUrl()
  const namespace = uniqueNamespace('set')
  const redis = new Redis(url)
  t.teardown(async () => {
    redis.disconnect()
    await dropNamespace(url, namespace)
  })

  return { redis, namespace }
}

async function sameBytes (t: Test, redis: Redis | ReturnType<typeof connectRedis>, key: string, sent: readonly Buffer[]): Promise<void> {
  const stored = await redis.getBuffer(key)
  t.ok(stored?.equals(Buffer.concat(sent)), `${key}: the parts one after the other, byte for byte`)
}

const hour = 3_600_000

t.test('a large value arrives whole from its parts, empty, binary and multi-megabyte ones included, with its expiry', async (t) => {
  const { redis, namespace } = await connect(t)
  const parts = [Buffer.alloc(0), Buffer.from('{"a":1}'), randomBytes(3 * 1024 * 1024), Buffer.from('\r\n$3\r\nnot a command\r\n'), randomBytes(70_000)]

  await setParts(redis, `${namespace}:large`, parts, hour)

  await sameBytes(t, redis, `${namespace}:large`, parts)
  const ttl = await redis.pttl(`${namespace}:large`)
  t.ok(ttl > hour - 10_000 && ttl <= hour, `expires in an hour (${ttl} ms left)`)
})

t.test('a small value goes the usual way and arrives the same', async (t) => {
  const { redis, namespace } = await connect(t)
  const parts = [Buffer.from('one'), Buffer.alloc(0), Buffer.from('three')]

  await setParts(redis, `${namespace}:small`, parts, hour)

  await sameBytes(t, redis, `${namespace}:small`, parts)
  t.ok(await redis.pttl(`${namespace}:small`) > 0, 'with its expiry')
})

t.test('sets interleaved with other commands on one connection keep every reply with its command', async (t) => {
  const { redis, namespace } = await connect(t)
  const batches = Array.from({ length: 12 }, (_, index) => [Buffer.from(`batch ${index}`), randomBytes(70_000 + index * 1_000)])

  // Nothing awaited in between: the commands share the socket back to back.
  const sets = batches.map(async (parts, index) => await setParts(redis, `${namespace}:b${index}`, parts, hour))
  const writes = batches.map(async (_, index) => await redis.set(`${namespace}:s${index}`, `value ${index}`))
  const reads = batches.map(async (_, index) => await redis.get(`${namespace}:s${index}`))
  const lengths = batches.map(async (_, index) => await redis.strlen(`${namespace}:b${index}`))
  const [, written, read, stored] = await Promise.all([Promise.all(sets), Promise.all(writes), Promise.all(reads), Promise.all(lengths)])

  t.same(written, batches.map(() => 'OK'))
  t.same(read, batches.map((_, index) => `value ${index}`), 'commands after a streamed SET read their own replies')
  t.same(stored, batches.map((parts) => Buffer.concat(parts).length), 'a command right after each SET sees it whole')
  for (const [index, parts] of batches.entries()) await sameBytes(t, redis, `${namespace}:b${index}`, parts)
})

t.test('with Redis unreachable the SET fails at once and writes nothing', async (t) => {
  // Port 9 on loopback: nothing listens, the connection is refused.
  const redis = connectRedis('redis://127.0.0.1:9')
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())

  const started = performance.now()
  await t.rejects(setParts(redis, 'unreachable:batch', [randomBytes(100_000)], hour), /writeable|closed|ECONNREFUSED/i)
  t.ok(performance.now() - started < 1_000, 'fails fast rather than queueing')
})

t.test('on a Redis Cluster the SET reaches the node that owns the key', async (t) => {
  const cluster = await startRedisCluster()
  t.teardown(cluster.stop)
  const redis = connectRedis(cluster.url, { enableOfflineQueue: true })
  t.teardown(() => redis.disconnect())
  const parts = [Buffer.from('meta'), randomBytes(200_000), randomBytes(90_000)]

  // Keys in different slots, so more than one node takes a SET.
  for (const key of ['{a}:batch', '{b}:batch', '{c}:batch']) {
    await setParts(redis, key, parts, hour)
    await sameBytes(t, redis, key, parts)
  }
})
