import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../telemetry/logger.js'
import type { DeltaAnswer, DeltaRequest } from './record-deltas.js'

/**
 * A batch whose deltas are not found by then is sent with its bodies
 * whole: the thread takes well under a millisecond per pair, so this only
 * happens when it is starved of a core or stuck.
 */
const answerWithinMs = 1_000
/** A thread that is starting gets this long for its first batches, until it has loaded. */
const startWithinMs = 10_000

/** What the thread needs: the arena and, to send batches itself, where to. */
export interface ThreadSettings {
  arena: SharedArrayBuffer
  writeTo?: {
    redisUrl: string
    namespace: string
    retentionMs: number
    commandTimeoutMs: number
  }
}

/** A record of a batch to send: its place in the arena, its length, and the bodies that may go as deltas. */
export interface RecordPlace {
  offset: number
  bytes: number
  slots: number
}

export interface WriteRequest {
  id: number
  batchId: string
  records: RecordPlace[]
}

export type ThreadMessage = ({ kind: 'find' } & DeltaRequest) | ({ kind: 'write' } & WriteRequest) | { kind: 'close' }

type ThreadAnswer =
  | { kind: 'ready', writes: boolean }
  | { kind: 'found', answer: DeltaAnswer }
  | { kind: 'written', id: number, saved?: number[], error?: { name: string, message: string, unreachable: boolean } }

/** A batch the thread sent: the body bytes its deltas left out, per record. */
export interface Written {
  saved: number[]
}

interface Waiting {
  resolve: (answer: unknown) => void
  timer: NodeJS.Timeout
  /** How long it may take once the thread has loaded. */
  withinMs: number
}

/** A batch the thread could not send because its own connection to Redis was down. */
export class ThreadConnectionError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ThreadConnectionError'
  }
}

/** The worker's entry beside this file: .js once built, .ts when run from source. */
const workerEntry = new URL(`./batch-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * The gateway's side of the thread that takes the heavy part of queueing
 * off the event loop: finding the deltas of differing answers and, when
 * given a Redis, sending the batches. Nothing here rejects for the
 * thread's sake: undefined means "do it yourself" (the thread is gone,
 * late, or could not start), and the batcher then sends the batch from
 * the event loop, its bodies whole, which loses nothing but bytes. A
 * thread that fails is not started again; that is said once.
 */
export class BatchThread {
  readonly #settings: ThreadSettings
  readonly #logger: Logger
  readonly #entry: URL
  readonly #answerWithinMs: number
  #worker: Worker | undefined
  #online = false
  #writes = false
  #failed = false
  #nextId = 1
  readonly #waiting = new Map<number, Waiting>()
  /** Told once the thread has loaded or failed. */
  #onOnline: Array<() => void> = []

  /** `entry` and `answerWithinMs`: tests pass a worker that fails, and less patience. */
  constructor (settings: ThreadSettings, logger: Logger, options: { entry?: URL, answerWithinMs?: number } = {}) {
    this.#settings = settings
    this.#logger = logger
    this.#entry = options.entry ?? workerEntry
    this.#answerWithinMs = options.answerWithinMs ?? answerWithinMs
  }

  /**
   * Starts the thread and waits until it has loaded (and connected, when
   * it writes), failed, or the start-up allowance ran out; true when it is
   * up. Batches sealed before then are handled from the event loop.
   */
  async start (): Promise<boolean> {
    const worker = this.#start()
    if (worker === undefined || this.#online) return this.#online

    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, startWithinMs)
      this.#onOnline.push(() => { clearTimeout(timer); resolve() })
    })
    return this.#online && !this.#failed
  }

  /** Whether batches are best handed to `write` now: the thread is up and has its own connection. */
  get writes (): boolean {
    return this.#online && this.#writes && !this.#failed
  }

  /** The deltas of the records at these places (offset, slots pairs), or undefined. */
  async find (records: number[]): Promise<DeltaAnswer | undefined> {
    return await this.#ask<DeltaAnswer>((id) => ({ kind: 'find', id, records }), this.#answerWithinMs)
  }

  /**
   * Sends a batch from the thread. Rejects with the thread's error (named
   * as it was: a ReplyError is Redis's answer; a ThreadConnectionError when
   * its connection was down) when the write failed or
   * took longer than two commands' timeouts and a little more; undefined
   * when the thread is gone, so the caller sends it.
   */
  async write (batchId: string, records: RecordPlace[]): Promise<Written | undefined> {
    const withinMs = 2 * (this.#settings.writeTo?.commandTimeoutMs ?? 0) + this.#answerWithinMs
    const answer = await this.#ask<Extract<ThreadAnswer, { kind: 'written' }>>((id) => ({ kind: 'write', id, batchId, records }), withinMs)
    // Gone with the thread, the batch is sent again by the caller (the same key and job id);
    // late, it is given up like a write Redis did not answer.
    if (answer === undefined && this.#failed) return undefined
    if (answer === undefined) throw new Error(`the batch thread did not send batch ${batchId} within ${withinMs} ms`)
    if (answer.error?.unreachable === true) throw new ThreadConnectionError(answer.error.message)
    if (answer.error !== undefined) throw Object.assign(new Error(answer.error.message), { name: answer.error.name })

    return { saved: answer.saved ?? [] }
  }

  async close (): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    this.#failed = true
    for (const id of [...this.#waiting.keys()]) this.#settle(id, undefined)
    this.#tellOnline()
    if (worker === undefined) return

    // It closes its own connection and exits; a thread that does not is stopped.
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    worker.postMessage({ kind: 'close' } satisfies ThreadMessage)
    const timer = setTimeout(() => { void worker.terminate() }, 1_000)
    await exited
    clearTimeout(timer)
  }

  async #ask<T> (message: (id: number) => ThreadMessage, withinMs: number): Promise<T | undefined> {
    const worker = this.#start()
    if (worker === undefined) return undefined

    const id = this.#nextId++
    return await new Promise((resolve) => {
      const waiting: Waiting = {
        resolve: (answer) => { clearTimeout(waiting.timer); resolve(answer as T | undefined) },
        timer: this.#giveUpOn(id, this.#online ? withinMs : startWithinMs),
        withinMs
      }
      this.#waiting.set(id, waiting)
      worker.postMessage(message(id))
    })
  }

  #start (): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker

    try {
      const worker = new Worker(this.#entry, { workerData: this.#settings })
      worker.on('message', (message: ThreadAnswer) => this.#hear(message))
      worker.on('error', (error) => this.#fail(error))
      worker.on('exit', (code) => this.#fail(new Error(`it exited with code ${code}`)))
      // After the listeners, which would hold the process open again.
      worker.unref()
      this.#worker = worker
      return worker
    } catch (error) {
      this.#fail(error)
      return undefined
    }
  }

  #hear (message: ThreadAnswer): void {
    if (message.kind === 'ready') this.#ready(message.writes)
    else if (message.kind === 'found') this.#settle(message.answer.id, message.answer)
    else this.#settle(message.id, message)
  }

  #giveUpOn (id: number, afterMs: number): NodeJS.Timeout {
    return setTimeout(() => this.#settle(id, undefined), afterMs)
  }

  /** Loaded: what waits from now on gets the usual time. */
  #ready (writes: boolean): void {
    this.#online = true
    this.#writes = writes
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer)
      waiting.timer = this.#giveUpOn(id, waiting.withinMs)
    }
    this.#tellOnline()
  }

  #tellOnline (): void {
    const waiting = this.#onOnline
    this.#onOnline = []
    for (const resolve of waiting) resolve()
  }

  #settle (id: number, answer: unknown): void {
    const waiting = this.#waiting.get(id)
    this.#waiting.delete(id)
    waiting?.resolve(answer)
  }

  #fail (error: unknown): void {
    if (this.#failed) return

    this.#failed = true
    this.#worker = undefined
    for (const id of [...this.#waiting.keys()]) this.#settle(id, undefined)
    this.#tellOnline()
    this.#logger.warn({ err: error }, 'the thread that prepares and sends batches of pairs stopped: the event loop sends them from now on, ' +
      'with both bodies whole (they take more room in Redis; nothing is lost)')
  }
}
