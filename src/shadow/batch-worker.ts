/**
 * The thread that takes the heavy part of queueing off the gateway's event
 * loop (see batch-thread.ts). It reads sealed batches in the gateway's
 * arena, which is shared memory, and finds the deltas of their differing
 * answers (see record-deltas.ts); given a Redis to write to, it also sends
 * the batches itself, on a connection of its own. It never writes to the
 * arena.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createKeys } from '../store/keys.js'
import { connectRedis, waitUntilReady } from '../store/redis-connection.js'
import { joinAdjacent } from './pair-arena.js'
import { batchHeader } from './pair-codec.js'
import { createPairQueue, writeBatch, type BatchTarget } from './pair-queue.js'
import { findBatchDeltas, shrinkRecord, type DeltaRequest } from './record-deltas.js'
import type { ThreadMessage, ThreadSettings, WriteRequest } from './batch-thread.js'

const settings = workerData as ThreadSettings
const arena = Buffer.from(settings.arena)
/** How long the thread waits for its connection before it says it is ready: then batches fail fast until it connects. */
const connectWithinMs = 1_000

const target = await connect()

parentPort?.on('message', (message: ThreadMessage) => {
  if (message.kind === 'find') answerFind(message)
  else if (message.kind === 'write') void answerWrite(message)
  else void closeAndExit()
})
parentPort?.postMessage({ kind: 'ready', writes: target !== undefined })

async function connect (): Promise<BatchTarget | undefined> {
  const writeTo = settings.writeTo
  if (writeTo === undefined) return undefined

  const redis = connectRedis(writeTo.redisUrl, { connectionName: 'shadowramp-pairs-thread', commandTimeout: writeTo.commandTimeoutMs })
  // Errors surface as failed writes, which the gateway counts.
  redis.on('error', () => {})
  await waitUntilReady(redis, connectWithinMs)
  const keys = createKeys(writeTo.namespace)
  const queue = createPairQueue(redis, keys)
  queue.on('error', () => {})

  return { redis, queue, keys, retentionMs: writeTo.retentionMs }
}

function answerFind (request: DeltaRequest): void {
  const answer = findBatchDeltas(arena, request)
  parentPort?.postMessage({ kind: 'found', answer }, [answer.deltas.buffer as ArrayBuffer])
}

async function answerWrite (request: WriteRequest): Promise<void> {
  const { id, batchId, records } = request
  try {
    if (target === undefined) throw new Error('this thread has no Redis to write to')
    const places = records.flatMap((record) => [record.offset, record.slots])
    const answer = findBatchDeltas(arena, { id, records: places })
    const saved: number[] = []
    const parts: Buffer[] = []
    records.forEach((record, index) => {
      const shrunk = shrinkRecord(arena.subarray(record.offset, record.offset + record.bytes), answer, index)
      parts.push(...shrunk.parts)
      saved.push(shrunk.saved)
    })
    await writeBatch(target, batchId, [batchHeader(records.length), ...joinAdjacent(parts)], records.length)
    parentPort?.postMessage({ kind: 'written', id, saved })
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error))
    // Its own connection down says more than the error: the gateway's may be up again already.
    const unreachable = target !== undefined && target.redis.status !== 'ready'
    parentPort?.postMessage({ kind: 'written', id, error: { name, message, unreachable } })
  }
}

async function closeAndExit (): Promise<void> {
  await target?.queue.close().catch(() => {})
  target?.redis.disconnect()
  process.exit(0)
}
