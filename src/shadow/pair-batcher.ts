import type { Logger } from '../telemetry/logger.js'
import type { ShadowConfig } from '../config/schema.js'
import { encodeBatch, encodePair } from './pair-codec.js'
import type { Pair } from './pair.js'
import type { QueueState } from './pair-queue.js'
import type { DropReason } from './shadow-metrics.js'

/** The queue as the batcher needs it. */
export interface BatchWriter {
  state: () => QueueState
  write: (batchId: string, batch: Buffer, pairs: number) => Promise<void>
}

export interface BatcherEvents {
  onEnqueued: (routes: string[]) => void
  onDropped: (route: string, reason: DropReason) => void
  onPendingBytes: (bytes: number) => void
}

interface Batch {
  id: string
  routes: string[]
  pairs: Buffer[]
  bytes: number
}

/**
 * Gathers pairs into batches and writes one batch at a time. The live path
 * only encodes a pair and appends it: no await, no Redis round trip, no
 * throw. While Redis is slow the batches wait in memory up to a bound; past
 * it, and while Redis is away or the queue is full, pairs are dropped and
 * counted by reason.
 */
export class PairBatcher {
  readonly #writer: BatchWriter
  readonly #config: ShadowConfig
  readonly #events: BatcherEvents
  readonly #logger: Logger
  readonly #sealed: Batch[] = []
  #open: Batch | undefined
  #timer: NodeJS.Timeout | undefined
  #writing = false
  #pendingBytes = 0
  #idle: Array<() => void> = []

  constructor (writer: BatchWriter, config: ShadowConfig, events: BatcherEvents, logger: Logger) {
    this.#writer = writer
    this.#config = config
    this.#events = events
    this.#logger = logger
  }

  get pendingBytes (): number {
    return this.#pendingBytes
  }

  add (pair: Pair): void {
    const state = this.#writer.state()
    if (state !== 'accepting') { this.#events.onDropped(pair.route, state); return }

    const encoded = encodePair(pair)
    if (this.#pendingBytes + encoded.length > this.#config.maxPendingBytes) {
      this.#events.onDropped(pair.route, 'redis-slow')
      return
    }

    const batch = this.#open ??= { id: pair.id, routes: [], pairs: [], bytes: 0 }
    batch.pairs.push(encoded)
    batch.routes.push(pair.route)
    batch.bytes += encoded.length
    this.#addPending(encoded.length)
    if (batch.pairs.length >= this.#config.batchPairs) this.#seal()
    else this.#timer ??= setTimeout(() => this.#seal(), this.#config.batchMs)
  }

  /** Resolves once every pair accepted so far was written or dropped, or after the timeout. */
  async drain (timeoutMs: number): Promise<void> {
    this.#seal()
    if (!this.#writing && this.#sealed.length === 0) return

    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#idle.push(() => { clearTimeout(timer); resolve() })
    })
  }

  #seal (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#open === undefined) return

    this.#sealed.push(this.#open)
    this.#open = undefined
    void this.#writeNext()
  }

  async #writeNext (): Promise<void> {
    if (this.#writing) return
    const batch = this.#sealed.shift()
    if (batch === undefined) { this.#settle(); return }

    this.#writing = true
    try {
      await this.#writer.write(batch.id, encodeBatch(batch.pairs), batch.pairs.length)
      this.#events.onEnqueued(batch.routes)
    } catch (error) {
      this.#logger.debug({ err: error, pairs: batch.pairs.length }, 'batch of pairs not written')
      const reason = this.#writer.state() === 'accepting' ? 'redis-slow' : 'redis-unreachable'
      for (const route of batch.routes) this.#events.onDropped(route, reason)
    } finally {
      this.#writing = false
      this.#addPending(-batch.bytes)
    }
    void this.#writeNext()
  }

  #settle (): void {
    const waiting = this.#idle
    this.#idle = []
    for (const resolve of waiting) resolve()
  }

  #addPending (bytes: number): void {
    this.#pendingBytes += bytes
    this.#events.onPendingBytes(this.#pendingBytes)
  }
}
