import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { PairBatchJob } from '../../src/shadow/pair-queue.js'
import { bucketMs, readDivergence } from '../../src/store/diff-aggregates.js'
import { createKeys, type Keys } from '../../src/store/keys.js'

/** A batch a worker finished, timed by Redis's clock. */
export interface Completion {
  jobId: string
  atMs: number
}

/**
 * What a benchmark reads of the queue and of a route's figures while
 * workers run: waiting batches, pairs counted, when each batch was
 * finished, and the CPU time Redis spent. Its own connection; reads only.
 */
export class PairQueueWatch {
  readonly #redis: Redis
  readonly #queue: Queue<PairBatchJob>
  readonly #keys: Keys
  readonly #route: string
  readonly #since: number

  constructor (redisUrl: string, namespace: string, route: string) {
    this.#keys = createKeys(namespace)
    this.#route = route
    this.#since = Date.now()
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectionName: 'shadowramp-bench-watch' })
    this.#redis.on('error', () => {})
    const queueOptions = { connection: this.#redis, prefix: this.#keys.queuePrefix }
    this.#queue = new Queue<PairBatchJob>(this.#keys.pairQueue, queueOptions)
  }

  /** Batches waiting for a worker (BullMQ's waiting count). */
  async waitingBatches (): Promise<number> {
    return await this.#queue.getWaitingCount()
  }

  /**
   * Pairs of the route counted in Redis since this watch started. Only the
   * buckets of the run are read, so a reading costs a few small commands.
   */
  async countedPairs (): Promise<number> {
    const from = this.#since - bucketMs
    const to = Date.now() + bucketMs
    const report = await readDivergence(this.#redis, this.#keys, this.#route, from, to)

    return report.pairs
  }

  /** Polls until `target` pairs are counted; resolves with the last reading either way. */
  async waitForCounted (target: number, timeoutMs: number, pollMs = 50): Promise<number> {
    const deadline = performance.now() + timeoutMs
    let counted = await this.countedPairs()
    while (counted < target && performance.now() < deadline) {
      await sleep(pollMs)
      counted = await this.countedPairs()
    }

    return counted
  }

  /** Redis's clock, in ms: completion times are on it. */
  async serverTimeMs (): Promise<number> {
    const [seconds, micros] = await this.#redis.time()

    return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)
  }

  /**
   * Batches finished since `sinceMs` (Redis time), from BullMQ's event
   * stream: each entry's id is the millisecond Redis wrote it, so the
   * times are exact whatever this process was doing meanwhile.
   */
  async completionsSince (sinceMs: number): Promise<Completion[]> {
    const stream = this.#queue.keys.events
    if (stream === undefined) throw new Error('this BullMQ version names no event stream')

    const entries = await this.#redis.xrange(stream, `${sinceMs}-0`, '+')
    const completions: Completion[] = []
    for (const [id, fields] of entries) {
      const event = readField(fields, 'event')
      const jobId = readField(fields, 'jobId')
      if (event !== 'completed' || jobId === undefined) continue
      completions.push({ jobId, atMs: Number(id.slice(0, id.indexOf('-'))) })
    }

    return completions
  }

  /**
   * CPU time Redis has used, in ms, from INFO. The Redis may serve others
   * too: a reading over a phase is an upper bound of this run's share.
   */
  async redisCpuMs (): Promise<number> {
    const info = await this.#redis.info('cpu')
    const read = (name: string): number =>
      Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)

    return (read('used_cpu_user') + read('used_cpu_sys')) * 1_000
  }

  async close (): Promise<void> {
    await this.#queue.close().catch(() => {})
    this.#redis.disconnect()
  }
}

function readField (fields: string[], name: string): string | undefined {
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === name) return fields[index + 1]
  }

  return undefined
}
