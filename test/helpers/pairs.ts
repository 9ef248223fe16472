import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { createKeys } from '../../src/store/keys.js'
import { decodeBatchParts } from '../../src/shadow/pair-codec.js'
import type { Pair } from '../../src/shadow/pair.js'
import type { PairBatchJob } from '../../src/shadow/pair-queue.js'

/** Every pair waiting in a namespace's queue, decoded from the batches the gateway wrote. */
export async function readQueuedPairs (redisUrl: string, namespace: string): Promise<Pair[]> {
  const keys = createKeys(namespace)
  const redis = new Redis(redisUrl)
  const queue = new Queue<PairBatchJob>(keys.pairQueue, { connection: redis, prefix: keys.queuePrefix })
  try {
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'failed'])
    const pairs: Pair[] = []
    for (const job of jobs) {
      const batch = await redis.getBuffer(job.data.batchKey)
      if (batch !== null) pairs.push(...decodeBatchParts([batch]))
    }
    return pairs
  } finally {
    await queue.close()
    redis.disconnect()
  }
}

/** Polls until the queue holds at least `count` pairs, or the time is up. */
export async function waitForPairs (redisUrl: string, namespace: string, count: number, timeoutMs = 5_000): Promise<Pair[]> {
  const deadline = Date.now() + timeoutMs
  let pairs: Pair[] = []
  while (Date.now() < deadline) {
    pairs = await readQueuedPairs(redisUrl, namespace)
    if (pairs.length >= count) return pairs
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return pairs
}
