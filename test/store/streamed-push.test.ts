import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { connectRedis } from '../../src/store/redis-connection.js'
import { pushParts } from '../../src/store/streamed-push.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

async function connect (t: Test): Promise<{ redis: Redis, namespace: string }> {
  const url = await testRedisUrl()
  const namespace = uniqueNamespace('push')
  const redis = new Redis(url)
  t.teardown(async () => {
    redis.disconnect()
    await dropNamespace(url, namespace)
  })

  return { redis, namespace }
}

function sameBytes (t: Test, stored: Buffer[], sent: readonly Buffer[], label: string): void {
  t.equal(stored.length, sent.length, `${label}: every part stored`)
  t.ok(stored.every((part, index) => part.equals(sent[index] as Buffer)), `${label}: each part byte for byte, in order`)
}

t.test('parts of a batch arrive whole and in order, empty, binary and multi-megabyte ones included', async (t) => {
  const { redis, namespace } = await connect(t)
  const parts = [Buffer.alloc(0), Buffer.from('{"a":1}'), randomBytes(3 * 1024 * 1024), Buffer.from('\r\n$3\r\nnot a command\r\n'), randomBytes(70_000)]

  const length = await pushParts(redis, `${namespace}:list`, parts)

  t.equal(length, parts.length, 'answers with the list length, as RPUSH does')
  sameBytes(t, await redis.lrangeBuffer(`${namespace}:list`, 0, -1), parts, 'large batch')
})

t.test('a small batch goes the usual way and arrives the same', async (t) => {
  const { redis, namespace } = await connect(t)
  const parts = [Buffer.from('one'), Buffer.alloc(0), Buffer.from('three')]

  t.equal(await pushParts(redis, `${namespace}:small`, parts), 3)
  sameBytes(t, await redis.lrangeBuffer(`${namespace}:small`, 0, -1), parts, 'small batch')
})

t.test('pushes interleaved with other commands on one connection keep every reply with its command', async (t) => {
  const { redis, namespace } = await connect(t)
  const batches = Array.from({ length: 12 }, (_, index) => [Buffer.from(`batch ${index}`), randomBytes(70_000 + index * 1_000)])

  // Nothing awaited in between: the commands share the socket back to back.
  const pushes = batches.map(async (parts, index) => await pushParts(redis, `${namespace}:b${index}`, parts))
  const writes = batches.map(async (_, index) => await redis.set(`${namespace}:s${index}`, `value ${index}`))
  const reads = batches.map(async (_, index) => await redis.get(`${namespace}:s${index}`))
  const [lengths, written, read] = await Promise.all([Promise.all(pushes), Promise.all(writes), Promise.all(reads)])

  t.same(lengths, batches.map(() => 2), 'each push answered with its own list length')
  t.same(written, batches.map(() => 'OK'))
  t.same(read, batches.map((_, index) => `value ${index}`), 'commands after a push read their own replies')
  for (const [index, parts] of batches.entries()) {
    sameBytes(t, await redis.lrangeBuffer(`${namespace}:b${index}`, 0, -1), parts, `batch ${index}`)
  }
})

t.test('with Redis unreachable the push fails at once and writes nothing', async (t) => {
  // Port 9 on loopback: nothing listens, the connection is refused.
  const redis = connectRedis('redis://127.0.0.1:9')
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())

  const started = performance.now()
  await t.rejects(pushParts(redis, 'unreachable:list', [randomBytes(100_000)]), /writeable|closed|ECONNREFUSED/i)
  t.ok(performance.now() - started < 1_000, 'fails fast rather than queueing')
})

t.test('on a Redis Cluster the push reaches the node that owns the key', async (t) => {
  const cluster = await startRedisCluster()
  t.teardown(cluster.stop)
  const redis = connectRedis(cluster.url, { enableOfflineQueue: true })
  t.teardown(() => redis.disconnect())
  const parts = [Buffer.from('meta'), randomBytes(200_000), randomBytes(90_000)]

  // Keys in different slots, so more than one node takes a push.
  for (const key of ['{a}:batch', '{b}:batch', '{c}:batch']) {
    t.equal(await pushParts(redis, key, parts), 3, `${key}: list length`)
    sameBytes(t, await redis.lrangeBuffer(key, 0, -1), parts, key)
  }
})
