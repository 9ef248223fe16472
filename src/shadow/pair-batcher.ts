import type { Logger } from '../telemetry/logger.js'
import type { ShadowConfig } from '../config/schema.js'
import { joinAdjacent, PairArena } from './pair-arena.js'
import { BatchThread, ThreadConnectionError, type ThreadSettings } from './batch-thread.js'
import { batchHeader, encodePair, writePair } from './pair-codec.js'
import type { Pair } from './pair.js'
import { shrinkRecord, type DeltaAnswer } from './record-deltas.js'
import type { QueueState } from './pair-queue.js'
import type { DropReason, QueueRefusal } from './shadow-metrics.js'
import { calmMs, TroubleNotice } from './trouble-notice.js'

/** The queue as the batcher needs it. */
export interface BatchWriter {
  state: () => QueueState
  write: (batchId: string, parts: Buffer[], pairs: number) => Promise<void>
}

export interface BatcherEvents {
  onEnqueued: (routes: string[]) => void
  onDropped: (route: string, reason: DropReason) => void
  onPendingBytes: (bytes: number) => void
  /** A pair's record left out this many body bytes, a body having gone as its differences. */
  onBytesSaved?: (route: string, bytes: number) => void
}

/** After Redis refused a write, pairs are refused this long; then one more batch finds out. */
const refusedForMs = 1_000

/**
 * A batch is sealed at this size whatever its number of pairs. With one
 * more record of at most four bodies of `maxBodyBytes` (64 MiB at most),
 * the batch, one value in Redis, stays under Redis's 512 MB limit on one.
 */
const maxBatchBytes = 64 * 1024 * 1024

interface Batch {
  id: string
  /** Where each pair's record was written, in the arena. */
  records: Buffer[]
  /** Per record, the bodies that may go as deltas (see record-deltas.ts). */
  deltaSlots: number[]
  routes: string[]
  bytes: number
  /** What its records were charged in the arena. */
  charged: number
  /** The deltas the thread is finding for its records, from the moment it is sealed. */
  deltas?: Promise<DeltaAnswer | undefined>
}

/**
 * Gathers pairs into batches and writes one batch at a time. The live path
 * only appends a pair: no await, no Redis round trip, no throw. Its record
 * is written into the arena (see pair-arena.ts) at once, bodies whole, and
 * a batch goes to Redis as the arena's views of its records, without
 * another copy: sent by the batch thread (see batch-thread.ts), which
 * finds the differing answers' deltas first, or from the event loop while
 * that thread is not up. While Redis is slow the batches wait in memory up
 * to a bound; past it, and while Redis is away or the queue is full, pairs
 * are dropped and counted by reason.
 */
export class PairBatcher {
  readonly #writer: BatchWriter
  readonly #config: ShadowConfig
  readonly #events: BatcherEvents
  readonly #logger: Logger
  readonly #now: () => number
  readonly #arena: PairArena
  readonly #sealed: Batch[] = []
  #open: Batch | undefined
  #timer: NodeJS.Timeout | undefined
  #writing = false
  #pendingBytes = 0
  /** A pair did not fit (in maxPendingBytes or in the arena), and nothing has left memory since. */
  #full = false
  /** Until when (epoch ms) pairs are refused because Redis answered a write with an error; 0: it takes them. */
  #refusedUntil = 0
  /**
   * Near maxmemory Redis refuses one batch and takes the next by turns:
   * the refusal is warned as it starts, and its end told only once Redis
   * has taken every batch for a calm span (see trouble-notice.ts).
   */
  readonly #refusals: TroubleNotice
  #idle: Array<() => void> = []
  #warnedOversized = false
  readonly #thread: BatchThread

  /**
   * `now`: the clock the refusal windows are timed by; tests pass their
   * own. `writeTo`: the Redis the batch thread sends batches to on its own
   * connection; without it, the thread only finds deltas and the event
   * loop sends every batch through `writer`.
   */
  constructor (writer: BatchWriter, config: ShadowConfig, events: BatcherEvents, logger: Logger, now: () => number = Date.now, writeTo?: ThreadSettings['writeTo']) {
    this.#writer = writer
    this.#config = config
    this.#events = events
    this.#logger = logger
    this.#now = now
    this.#refusals = new TroubleNotice(now)
    this.#arena = new PairArena(config.maxPendingBytes)
    this.#thread = new BatchThread({ arena: this.#arena.shared, ...(writeTo === undefined ? {} : { writeTo }) }, logger)
  }

  get pendingBytes (): number {
    return this.#pendingBytes
  }

  /** Why a pair added now would be dropped, if it would: the mirror then sends no shadow request. */
  refusal (): QueueRefusal | undefined {
    return this.#redisRefusal() ?? (this.#full ? 'redis-slow' : undefined)
  }

  add (pair: Pair): void {
    // A pair already under way is dropped only if it does not fit: the
    // memory bound is checked against its own size below.
    const refusal = this.#redisRefusal()
    if (refusal !== undefined) { this.#events.onDropped(pair.route, refusal); return }

    const encoded = encodePair(pair)
    const { bytes } = encoded
    if (bytes > this.#config.maxPendingBytes) { this.#refuseOversized(pair, bytes); return }
    // The arena is the bound: maxPendingBytes, of which it can also be
    // short of one contiguous place; the next batch written makes room.
    const span = this.#arena.take(bytes)
    if (span === undefined) { this.#refuseForMemory(pair); return }
    writePair(encoded, span.view)

    const batch = this.#open ??= { id: pair.id, records: [], deltaSlots: [], routes: [], bytes: 0, charged: 0 }
    batch.records.push(span.view)
    batch.deltaSlots.push(encoded.deltaSlots)
    batch.routes.push(pair.route)
    batch.bytes += bytes
    batch.charged += span.charged
    this.#addPending(bytes)
    if (batch.routes.length >= this.#config.batchPairs || batch.bytes >= maxBatchBytes) this.#seal()
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

    const batch = this.#open
    this.#open = undefined
    if (!this.#thread.writes && batch.deltaSlots.some((slots) => slots !== 0)) {
      batch.deltas = this.#thread.find(batch.records.flatMap((record, index) => [record.byteOffset, batch.deltaSlots[index] as number]))
    }
    this.#sealed.push(batch)
    void this.#writeNext()
  }

  /** Starts the batch thread, waiting until it is up (see BatchThread.start); pairs may be added before. */
  async start (): Promise<void> {
    await this.#thread.start()
  }

  /** Stops the batch thread; after drain, when the batcher is no longer used. */
  async close (): Promise<void> {
    await this.#thread.close()
  }

  async #writeNext (): Promise<void> {
    if (this.#writing) return
    const batch = this.#sealed.shift()
    if (batch === undefined) { this.#settle(); return }

    this.#writing = true
    const { routes } = batch
    try {
      await this.#send(batch)
      this.#events.onEnqueued(routes)
      this.#refusedUntil = 0
      if (this.#refusals.absent()) {
        this.#logger.info({ calmMs }, `Redis takes pairs again, and has for ${calmMs / 1_000} s: mirroring goes on`)
      }
    } catch (error) {
      const reason = this.#failureReason(error)
      this.#logger.debug({ err: error, pairs: routes.length, reason }, 'batch of pairs not written')
      for (const route of routes) this.#events.onDropped(route, reason)
    } finally {
      this.#writing = false
      // Written or refused by Redis, the batch has all been read. Lost
      // with its connection, it was never sent. Timed out, or cut off by
      // shutdown, views of it may still wait in the socket, and later pairs
      // may change them before they go: no job points at that batch, which
      // the delete queued behind it removes (see PairQueue.write), or which
      // expires after retentionMs when the delete could not be sent.
      this.#arena.release(batch.charged)
      this.#addPending(-batch.bytes)
    }
    // A backlog after a stall is written one batch per turn of the event
    // loop, so live requests are served in between.
    setImmediate(() => { void this.#writeNext() })
  }

  /**
   * Sends a batch: from the batch thread when it can (it finds the deltas
   * and writes, off the event loop), else from here, with the deltas the
   * thread found, if it found them.
   */
  async #send (batch: Batch): Promise<void> {
    const { routes, records } = batch
    if (batch.deltas === undefined && this.#thread.writes) {
      const places = records.map((record, index) => ({ offset: record.byteOffset, bytes: record.length, slots: batch.deltaSlots[index] as number }))
      const written = await this.#thread.write(batch.id, places)
      if (written !== undefined) {
        written.saved.forEach((saved, index) => { if (saved > 0) this.#events.onBytesSaved?.(routes[index] as string, saved) })
        return
      }
    }
    const parts = this.#withDeltas(batch, await batch.deltas)
    await this.#writer.write(batch.id, [batchHeader(routes.length), ...joinAdjacent(parts)], routes.length)
  }

  /** The batch's records as they are sent: with the deltas found in place of their bodies, when found. */
  #withDeltas (batch: Batch, answer: DeltaAnswer | undefined): Buffer[] {
    if (answer === undefined) return batch.records

    return batch.records.flatMap((record, index) => {
      const { parts, saved } = shrinkRecord(record, answer, index)
      if (saved > 0) this.#events.onBytesSaved?.(batch.routes[index] as string, saved)
      return parts
    })
  }

  /**
   * A pair that no amount of waiting would make room for: Redis is not to
   * blame, the bound is. Said once, with what to change; mirroring goes on.
   */
  #refuseOversized (pair: Pair, bytes: number): void {
    this.#events.onDropped(pair.route, 'larger-than-pending-bound')
    if (this.#warnedOversized) return

    this.#warnedOversized = true
    this.#logger.warn({ route: pair.route, bytes, maxPendingBytes: this.#config.maxPendingBytes },
      `a pair of ${bytes} bytes is larger than shadow.maxPendingBytes and was dropped: such pairs are never queued; ` +
      'raise shadow.maxPendingBytes above three times shadow.maxBodyBytes (told once)')
  }

  /**
   * Full only while something waits that will leave memory and clear it:
   * a pair that does not fit the arena with nothing pending is dropped on
   * its own and mirroring goes on.
   */
  #refuseForMemory (pair: Pair): void {
    this.#full = this.#pendingBytes > 0
    this.#events.onDropped(pair.route, 'redis-slow')
  }

  /** Redis away, the queue full, or Redis refusing writes: no pair is taken. */
  #redisRefusal (): Exclude<QueueRefusal, 'redis-slow'> | undefined {
    const state = this.#writer.state()
    if (state !== 'accepting') return state

    return this.#now() < this.#refusedUntil ? 'redis-refused' : undefined
  }

  /**
   * Why a write failed: Redis gone, Redis too slow (the command timed
   * out), or Redis answering with an error (out of memory, read-only
   * replica), after which pairs are refused for a while rather than made
   * to be dropped.
   */
  #failureReason (error: unknown): DropReason {
    if (this.#writer.state() !== 'accepting' || error instanceof ThreadConnectionError) return 'redis-unreachable'
    if ((error as Error)?.name !== 'ReplyError') return 'redis-slow'

    if (this.#refusals.present()) {
      // Redis's own words say why (OOM, READONLY): no stack trace needed.
      const answer = (error as Error).message
      this.#logger.warn({ redisError: answer },
        `Redis refused a batch of pairs (${answer}): nothing is mirrored until it takes them again; ` +
        "check Redis's maxmemory and that it is a primary, not a read-only replica")
    }
    this.#refusedUntil = this.#now() + refusedForMs
    return 'redis-refused'
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
