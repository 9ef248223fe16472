import t from 'tap'
import { configSchema } from '../../src/config/schema.js'
import { batchHeader } from '../../src/shadow/pair-codec.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import { createKeys } from '../../src/store/keys.js'
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
