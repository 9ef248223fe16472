import { setTimeout as sleep } from 'node:timers/promises'
import type { ShadowConfig } from '../../src/config/schema.js'
import { PairBatcher } from '../../src/shadow/pair-batcher.js'
import { PairQueue } from '../../src/shadow/pair-queue.js'
import { createKeys } from '../../src/store/keys.js'
import type { Logger } from '../../src/telemetry/logger.js'
import { makeFeedPair, type FeedPairBodies } from './feed-pairs.js'

export interface PairProducerOptions {
  redisUrl: string
  namespace: string
  route: string
  /** Bodies the pairs carry, taken in turn. */
  bodies: readonly FeedPairBodies[]
  /** The shadow section of a validated configuration: batch size and timer, bounds. */
  shadow: ShadowConfig
  logger: Logger
}

export interface BacklogResult {
  pairs: number
  /** Job id → pairs in that batch; a batch's job id is its first pair's id. */
  batches: Map<string, number>
  elapsedMs: number
}

export interface OfferResult {
  /** Pairs handed to the batcher. */
  offered: number
  /** Pairs written to Redis in batches. */
  enqueued: number
  batches: number
  /** Pairs the batcher dropped, by reason (queue full, Redis slow or away). */
  droppedByReason: Record<string, number>
  elapsedMs: number
  achievedRate: number
}

/**
 * Share of the batcher's bound on bytes waiting for Redis that a backlog
 * fills before it waits: past the bound the batcher drops pairs, and a
 * backlog must not lose any.
 */
const backlogPendingShare = 0.25
/** How often the fixed-rate producer wakes up; pairs due meanwhile are added at once. */
const offerTickMs = 5

/**
 * Enqueues pairs the way a gateway does: the real PairBatcher gathers them
 * into batches and the real PairQueue writes each batch as one binary
 * string plus one BullMQ job.
 */
export class PairProducer {
  readonly #options: PairProducerOptions
  readonly #queue: PairQueue
  readonly #batcher: PairBatcher
  #next = 0
  #enqueuedPairs = 0
  #enqueuedBatches = 0
  #dropped: Record<string, number> = {}

  private constructor (options: PairProducerOptions) {
    this.#options = options
    const keys = createKeys(options.namespace)
    this.#queue = new PairQueue({ keys, config: options.shadow, logger: options.logger })
    this.#batcher = new PairBatcher(this.#queue, options.shadow, {
      onEnqueued: (routes) => { this.#enqueuedPairs += routes.length; this.#enqueuedBatches++ },
      onDropped: (_route, reason) => { this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1 },
      onPendingBytes: () => {}
    }, options.logger)
  }

  static async start (options: PairProducerOptions): Promise<PairProducer> {
    const producer = new PairProducer(options)
    await producer.#queue.start(options.redisUrl, 5_000)
    if (producer.#queue.state() !== 'accepting') {
      await producer.close()
      throw new Error(`the pair queue does not accept pairs: ${producer.#queue.state()}`)
    }

    return producer
  }

  /**
   * `count` pairs in full batches (count is rounded up to whole batches),
   * each batch added in one go so that no batch timer cuts one short.
   * Throws when a single pair was dropped: a backlog must be complete.
   */
  async enqueueBacklog (count: number, label: string): Promise<BacklogResult> {
    const started = performance.now()
    const before = this.#snapshot()
    const { batchPairs, maxPendingBytes } = this.#options.shadow
    const batches = new Map<string, number>()
    for (let added = 0; added < count; added += batchPairs) {
      while (this.#batcher.pendingBytes > maxPendingBytes * backlogPendingShare) await sleep(1)
      batches.set(this.#addPair(`${label}-${added}`), batchPairs)
      for (let index = 1; index < batchPairs; index++) this.#addPair(`${label}-${added + index}`)
    }
    await this.#batcher.drain(60_000)

    const after = this.#snapshot()
    const pairs = batches.size * batchPairs
    const dropped = after.droppedTotal - before.droppedTotal
    const enqueued = after.enqueuedPairs - before.enqueuedPairs
    if (dropped > 0 || enqueued !== pairs) {
      const reasons = JSON.stringify(this.#dropped)
      const lost = `${dropped} dropped (${reasons})`
      throw new Error(`backlog ${label}: ${enqueued} of ${pairs} pairs enqueued, ${lost}`)
    }

    return { pairs, batches, elapsedMs: performance.now() - started }
  }

  /**
   * Offers pairs at a fixed rate for a fixed time, whatever happens to
   * them: the schedule is kept from the start time, so a late wake-up
   * adds the pairs that were due meanwhile. The batcher forms batches by
   * size or by its timer, as on a gateway at this rate.
   */
  async offerAtRate (
    ratePerSecond: number, durationMs: number, label: string
  ): Promise<OfferResult> {
    const before = this.#snapshot()
    const started = performance.now()
    let offered = 0
    for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - started) {
      const due = Math.floor((ratePerSecond * elapsed) / 1_000)
      for (; offered < due; offered++) this.#addPair(`${label}-${offered}`)
      await sleep(offerTickMs)
    }
    const elapsedMs = performance.now() - started
    await this.#batcher.drain(10_000)

    const after = this.#snapshot()
    return {
      offered,
      enqueued: after.enqueuedPairs - before.enqueuedPairs,
      batches: after.enqueuedBatches - before.enqueuedBatches,
      droppedByReason: subtractCounts(before.dropped, after.dropped),
      elapsedMs,
      achievedRate: (offered * 1_000) / elapsedMs
    }
  }

  async close (): Promise<void> {
    await this.#batcher.drain(2_000)
    await this.#queue.close()
  }

  /** Adds one pair with a fresh id and returns the id. */
  #addPair (id: string): string {
    const { bodies, route } = this.#options
    const pairBodies = bodies[this.#next++ % bodies.length] as FeedPairBodies
    this.#batcher.add(makeFeedPair(pairBodies, id, route, Date.now()))

    return id
  }

  #snapshot (): ProducerCounts {
    const dropped = { ...this.#dropped }
    const droppedTotal = Object.values(dropped).reduce((sum, count) => sum + count, 0)
    const enqueuedPairs = this.#enqueuedPairs

    return { enqueuedPairs, enqueuedBatches: this.#enqueuedBatches, dropped, droppedTotal }
  }
}

interface ProducerCounts {
  enqueuedPairs: number
  enqueuedBatches: number
  dropped: Record<string, number>
  droppedTotal: number
}

function subtractCounts (
  before: Record<string, number>, after: Record<string, number>
): Record<string, number> {
  const entries = Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)])

  return Object.fromEntries(entries.filter(([, value]) => value !== 0))
}
