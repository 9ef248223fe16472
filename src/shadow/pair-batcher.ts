import type { Logger } from '../telemetry/logger.js'
import type { ShadowConfig } from '../config/schema.js'
import { encodeBatchParts, measurePair } from './pair-codec.js'
import type { Pair } from './pair.js'
import type { QueueState } from './pair-queue.js'
import type { DropReason, QueueRefusal } from './shadow-metrics.js'

/** The queue as the batcher needs it. */
export interface BatchWriter {
  state: () => QueueState
  write: (batchId: string, parts: Buffer[], pairs: number) => Promise<void>
}

export interface BatcherEvents {
  onEnqueued: (routes: string[]) => void
  onDropped: (route: string, reason: DropReason) => void
  onPendingBytes: (bytes: number) => void
}

interface Batch {
  id: string
  pairs: Pair[]
  bytes: number
}

/**
 * Gathers pairs into batches and writes one batch at a time. The live path
 * only appends a pair: no encoding, no await, no Redis round trip, no
 * throw. A batch is encoded as it is written, its bodies passed along
 * without being copied. While Redis is slow the batches wait in memory up
 * to a bound; past it, and while Redis is away or the queue is full, pairs
 * are dropped and counted by reason.
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
  /** A pair did not fit in maxPendingBytes, and nothing has left memory since. */
  #full = false
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

  /** Why a pair added now would be dropped, if it would: the mirror then sends no shadow request. */
  refusal (): QueueRefusal | undefined {
    const state = this.#writer.state()
    if (state !== 'accepting') return state

    return this.#full ? 'redis-slow' : undefined
  }

  add (pair: Pair): void {
    const state = this.#writer.state()
    if (state !== 'accepting') { this.#events.onDropped(pair.route, state); return }

    const bytes = measurePair(pair)
    if (this.#pendingBytes + bytes > this.#config.maxPendingBytes) {
      // Full only while something waits that will leave memory and clear
      // it: a pair larger than the whole bound, with nothing pending, is
      // dropped on its own and mirroring goes on.
      this.#full = this.#pendingBytes > 0
      this.#events.onDropped(pair.route, 'redis-slow')
      return
    }

    const batch = this.#open ??= { id: pair.id, pairs: [], bytes: 0 }
    batch.pairs.push(pair)
    batch.bytes += bytes
    this.#addPending(bytes)
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
    const routes = batch.pairs.map((pair) => pair.route)
    try {
      await this.#writer.write(batch.id, encodeBatchParts(batch.pairs), batch.pairs.length)
      this.#events.onEnqueued(routes)
    } catch (error) {
      this.#logger.debug({ err: error, pairs: batch.pairs.length }, 'batch of pairs not written')
      const reason = this.#writer.state() === 'accepting' ? 'redis-slow' : 'redis-unreachable'
      for (const route of routes) this.#events.onDropped(route, reason)
    } finally {
      this.#writing = false
      this.#addPending(-batch.bytes)
    }
    // A backlog after a stall is written one batch per turn of the event
    // loop, so live requests are served in between.
    setImmediate(() => { void this.#writeNext() })
  }

  #settle (): void {
    const waiting = this.#idle
    this.#idle = []
    for (const resolve of waiting) resolve()
  }

  #addPending (bytes: number): void {
    if (bytes < 0) this.#full = false
    this.#pendingBytes += bytes
    this.#events.onPendingBytes(this.#pendingBytes)
  }
}
