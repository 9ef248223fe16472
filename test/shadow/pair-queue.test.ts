import { Queue } from 'bullmq'
import t from 'tap'
import { configSchema } from '../../src/config/schema.js'
import { batchHeader } from '../../src/shadow/pair-codec.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import { calmMs } from '../../src/shadow/trouble-notice.js'
import { createKeys } from '../../src/store/keys.js'
import { waitFor } from '../helpers/admin-api.js'
import { memoryLogger } from '../helpers/gateway.js'
import { adminConnection, privateRedis } from '../helpers/redis.js'

t.test('a batch whose write timed out leaves nothing behind once Redis wakes', async (t) => {
  const { url: redisUrl, server } = await privateRedis(t)
  const keys = createKeys('pair-queue-test')
  const queue = new PairQueue({
    keys, config: configSchema.shape.shadow.parse(undefined), logger: memoryLogger().logger, commandTimeoutMs: 300
  })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const inspect = adminConnection(t, redisUrl)

  server.kill('SIGSTOP')
  const started = Date.now()
  await t.rejects(queue.write('stalled', [batchHeader(0)], 0), /timed out/)
  t.ok(Date.now() - started < 2_000, 'the write gave up at its command timeout')
  server.kill('SIGCONT')

  // The SET runs as Redis wakes; the delete queued behind it removes the batch.
  let exists = 1
  for (let attempt = 0; attempt < 50 && exists !== 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    exists = await inspect.exists(keys.pairBatch('stalled'))
  }
  t.equal(exists, 0, 'no batch waits without a job for retentionMs')
})

t.test('a batch whose job Redis refuses leaves nothing behind', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const admin = adminConnection(t, redisUrl)
  // A user that may write keys but not run scripts: BullMQ adds a job with one.
  await admin.call('ACL', 'SETUSER', 'gateway', 'on', '>secret', '~*', '&*', '+@all', '-evalsha', '-eval')
  const keys = createKeys('pair-queue-test')
  const queue = new PairQueue({ keys, config: configSchema.shape.shadow.parse(undefined), logger: memoryLogger().logger })
  await queue.start(redisUrl.replace('//', '//gateway:secret@'))
  t.teardown(async () => await queue.close())

  await t.rejects(queue.write('refused', [batchHeader(0)], 0), { name: 'ReplyError', message: /NOPERM/ })
  let exists = 1
  for (let attempt = 0; attempt < 50 && exists !== 0; attempt++) {
    exists = await admin.exists(keys.pairBatch('refused'))
    if (exists !== 0) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(exists, 0, 'the batch written for the refused job is deleted')
})

t.test('a full queue is warned once with what to do, and told to take pairs again once it has stayed under its limit', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const keys = createKeys('pair-queue-test')
  const { logger, lines } = memoryLogger()
  let clock = Date.now()
  let readings = 0
  const queue = new PairQueue({
    keys, config: configSchema.shape.shadow.parse({ maxQueueDepth: 2 }), logger, now: () => clock, onDepth: () => { readings++ }
  })
  await queue.start(redisUrl)
  t.teardown(async () => await queue.close())
  const nextReadings = async (count: number): Promise<void> => {
    const target = readings + count
    await waitFor(async () => readings >= target, 5_000)
  }
  const told = (): Array<Record<string, unknown>> => lines().filter((line) => line.maxQueueDepth !== undefined)

  // No worker runs: the two batches stay, and the depth reaches the limit.
  await queue.write('first', [batchHeader(0)], 0)
  await queue.write('second', [batchHeader(0)], 0)
  await waitFor(async () => queue.state() === 'queue-full', 5_000)
  await nextReadings(2)
  t.equal(told().length, 1, 'warned once while it stays full')
  t.match(told()[0], {
    level: 40, depth: 2, maxQueueDepth: 2, msg: /full: 2 batches .*dropped .*workers are running.*raise shadow\.maxQueueDepth/
  })

  // The workers catch up (the batches are taken here without one).
  const admin = adminConnection(t, redisUrl)
  const consumer = new Queue(keys.pairQueue, { connection: admin, prefix: keys.queuePrefix })
  await consumer.drain()
  await consumer.close()
  await waitFor(async () => queue.state() === 'accepting', 5_000)
  await nextReadings(1)
  t.equal(told().length, 1, 'taking pairs again for a moment is not told yet')

  clock += calmMs
  await nextReadings(1)
  t.equal(told().length, 2)
  t.match(told()[1], { level: 30, depth: 0, maxQueueDepth: 2, msg: /takes pairs again/ }, 'told once under the limit for the calm span')
})
