import { Queue } from 'bullmq'
import type { RedisClient } from '../store/redis-connection.js'
import type { ShadowConfig } from '../config/schema.js'
import type { Keys } from '../store/keys.js'
import { connectRedis, waitUntilReady } from '../store/redis-connection.js'
import { RedisHeartbeat } from '../store/redis-heartbeat.js'
import { setParts } from '../store/streamed-set.js'
import type { Logger } from '../telemetry/logger.js'
import { calmMs, TroubleNotice } from './trouble-notice.js'

/** The job a batch of pairs becomes: the batch itself waits under a key of its own. */
export interface PairBatchJob {
  batchKey: string
  pairs: number
  bytes: number
}

export type QueueState = 'accepting' | 'redis-unreachable' | 'queue-full'

export interface PairQueueOptions {
  keys: Keys
  config: ShadowConfig
  logger: Logger
  /** Told the depth, in batches waiting, each time it is read. */
  onDepth?: (depth: number) => void
  /**
   * A command Redis has not answered by then fails, so a paused Redis
   * never holds a batch for ever; in ms, default 10 s.
   */
  commandTimeoutMs?: number
  /** The clock that times how long the queue has been under its limit; tests pass their own. */
  now?: () => number
}

/** A command for pairs that Redis has not answered by then fails (see PairQueueOptions). */
export const pairCommandTimeoutMs = 10_000

/** How often the queue's depth is read: the limit is enforced on this reading. */
const depthPollMs = 1_000

/**
 * The producer side of the queue. A batch is one Redis string of its records
 * (see pair-codec.ts) plus one small BullMQ job that points at it, so
 * neither the gateway nor Redis pays for turning bodies into JSON strings.
 * Nothing here waits for Redis while it is away: commands fail at once.
 */
export class PairQueue {
  readonly #keys: Keys
  readonly #config: ShadowConfig
  readonly #logger: Logger
  readonly #onDepth: (depth: number) => void
  readonly #commandTimeoutMs: number
  #redis: RedisClient | undefined
  #queue: Queue<PairBatchJob> | undefined
  #timer: NodeJS.Timeout | undefined
  #depth = 0
  #reachable = true
  #heartbeat: RedisHeartbeat | undefined
  /** The connection is open but Redis left a PING unanswered (stopped, or the network drops packets). */
  #silent = false
  /**
   * Workers a little slower than the traffic keep the depth near its limit,
   * and the queue turns full and back every second or two: it is warned
   * full once, and told to take pairs again once it has stayed under the
   * limit for a calm span (see trouble-notice.ts).
   */
  readonly #fullness: TroubleNotice

  constructor (options: PairQueueOptions) {
    this.#keys = options.keys
    this.#config = options.config
    this.#logger = options.logger
    this.#onDepth = options.onDepth ?? (() => {})
    this.#commandTimeoutMs = options.commandTimeoutMs ?? pairCommandTimeoutMs
    this.#fullness = new TroubleNotice(options.now)
  }

  /** Connects, waiting up to `waitMs` for Redis so the first pairs are not dropped needlessly. */
  async start (redisUrl: string, waitMs = 1_000): Promise<void> {
    const redis = connectRedis(redisUrl, { connectionName: 'shadowramp-pairs', commandTimeout: this.#commandTimeoutMs })
    this.#redis = redis
    redis.on('error', () => this.#markReachable(false))
    redis.on('ready', () => {
      this.#silent = false
      this.#markReachable(true)
      // BullMQ checks the server as it is built; with commands failing fast
      // while disconnected, it is built once the connection is ready.
      this.#queue ??= this.#createQueue(redis)
    })
    // A stopped Redis leaves the connection open and 'ready': without the
    // PING, pairs would go on being mirrored and held for writes that can
    // only time out.
    this.#heartbeat = new RedisHeartbeat({ redis, onChange: (answering) => this.#followHeartbeat(answering) })
    this.#heartbeat.start()
    this.#timer = setInterval(() => { void this.#readDepth() }, depthPollMs)
    this.#timer.unref()
    await waitUntilReady(redis, waitMs)
  }

  /** The connection, for other small writes of the shadow side. */
  get redis (): RedisClient | undefined {
    return this.#redis
  }

  state (): QueueState {
    if (this.#queue === undefined || this.#redis?.status !== 'ready' || this.#silent) return 'redis-unreachable'

    return this.#depth >= this.#config.maxQueueDepth ? 'queue-full' : 'accepting'
  }

  /** Writes one batch; the job id comes from the batch id, so a batch is never queued twice. */
  async write (batchId: string, parts: Buffer[], pairs: number): Promise<void> {
    const redis = this.#redis
    const queue = this.#queue
    if (redis === undefined || queue === undefined) throw new Error('the pair queue is not started')

    await writeBatch({ redis, queue, keys: this.#keys, retentionMs: this.#config.retentionMs }, batchId, parts, pairs)
  }

  #createQueue (redis: RedisClient): Queue<PairBatchJob> {
    const queue = createPairQueue(redis, this.#keys)
    queue.on('error', () => this.#markReachable(false))

    return queue
  }

  async close (): Promise<void> {
    this.#heartbeat?.stop()
    clearInterval(this.#timer)
    await this.#queue?.close().catch(() => {})
    this.#redis?.disconnect()
  }

  async #readDepth (): Promise<void> {
    const queue = this.#queue
    if (queue === undefined || this.state() === 'redis-unreachable') return

    try {
      this.#depth = await queue.getWaitingCount()
    } catch {
      // Read again at the next tick; the state stays as last known.
      return
    }
    this.#onDepth(this.#depth)
    this.#tellFullness(this.#depth)
  }

  #tellFullness (depth: number): void {
    const { maxQueueDepth } = this.#config
    if (depth >= maxQueueDepth) {
      if (this.#fullness.present()) {
        this.#logger.warn({ depth, maxQueueDepth },
          `pair queue full: ${depth} batches wait for diff workers, shadow.maxQueueDepth is ${maxQueueDepth}; ` +
          'new pairs are dropped and mirroring stands aside until the workers catch up: ' +
          'check that workers are running, run more, or raise shadow.maxQueueDepth')
      }
      return
    }

    if (this.#fullness.absent()) {
      this.#logger.info({ depth, maxQueueDepth, calmMs },
        `pair queue takes pairs again, and has for ${calmMs / 1_000} s: mirroring goes on`)
    }
  }

  #followHeartbeat (answering: boolean): void {
    this.#silent = !answering
    this.#markReachable(answering)
  }

  #markReachable (reachable: boolean): void {
    if (reachable === this.#reachable) return

    this.#reachable = reachable
    if (reachable) this.#logger.info('pair queue reachable again')
    else this.#logger.warn('pair queue unreachable: mirroring stands aside, and pairs under way are dropped and counted, until Redis answers')
  }
}

/** The BullMQ queue of pairs, on a connection of the caller's. */
export function createPairQueue (redis: RedisClient, keys: Keys): Queue<PairBatchJob> {
  return new Queue<PairBatchJob>(keys.pairQueue, { connection: redis, prefix: keys.queuePrefix })
}

/** Where batches are written: a connection, the queue on it, and how long a batch is kept. */
export interface BatchTarget {
  redis: RedisClient
  queue: Queue<PairBatchJob>
  keys: Keys
  retentionMs: number
}

/**
 * Writes one batch: the batch under its own key, then the job that points
 * at it. The gateway's queue does this, and so does the thread that sends
 * batches off the event loop (see delta-worker.ts).
 */
export async function writeBatch (target: BatchTarget, batchId: string, parts: Buffer[], pairs: number): Promise<void> {
  const { redis, queue, keys, retentionMs } = target
  const batchKey = keys.pairBatch(batchId)
  const bytes = parts.reduce((sum, part) => sum + part.length, 0)
  // One SET with its expiry, the parts streamed uncopied (setParts): the
  // batch is stored before the job that points at it is added.
  try {
    await setParts(redis, batchKey, parts, retentionMs)
    await queue.add('pairs', { batchKey, pairs, bytes }, {
      jobId: batchId,
      removeOnComplete: true,
      removeOnFail: { age: Math.round(retentionMs / 1_000) },
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000 }
    })
  } catch (error) {
    // The batch counts as dropped, so its key goes. Timed out, the SET
    // or the add may still run once Redis wakes; the delete queues behind
    // them on the same connection, so no batch waits for retentionMs with
    // no job pointing at it, and a job added late finds its batch gone
    // (the worker counts that batch as missing) rather than being judged.
    redis.unlink(batchKey).catch(() => {})
    throw error
  }
}
