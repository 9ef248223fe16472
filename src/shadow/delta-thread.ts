import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../telemetry/logger.js'
import type { DeltaAnswer } from './record-deltas.js'

/**
 * A batch not answered by then is sent with its bodies whole: the thread
 * takes well under a millisecond per pair, so this only happens when it is
 * starved of a core or stuck.
 */
const answerWithinMs = 1_000
/** A thread that is starting gets this long for its first batches, until it has loaded. */
const startWithinMs = 10_000

interface Waiting {
  resolve: (answer: DeltaAnswer | undefined) => void
  timer: NodeJS.Timeout
}

/** The worker's entry beside this file: .js once built, .ts when run from source. */
const workerEntry = new URL(`./delta-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * The gateway's side of the thread that finds deltas. `find` never
 * rejects: undefined means the batch goes with its bodies whole (the
 * thread is gone, late, or could not start), which loses nothing but
 * bytes. A thread that fails is not started again; that is said once.
 */
export class DeltaThread {
  readonly #arena: SharedArrayBuffer
  readonly #logger: Logger
  readonly #entry: URL
  readonly #answerWithinMs: number
  #worker: Worker | undefined
  #online = false
  #failed = false
  #nextId = 1
  readonly #waiting = new Map<number, Waiting>()

  /** `entry` and `answerWithinMs`: tests pass a worker that fails, and less patience. */
  constructor (arena: SharedArrayBuffer, logger: Logger, options: { entry?: URL, answerWithinMs?: number } = {}) {
    this.#arena = arena
    this.#logger = logger
    this.#entry = options.entry ?? workerEntry
    this.#answerWithinMs = options.answerWithinMs ?? answerWithinMs
  }

  /** The deltas of the records at these places (offset, slots pairs), or undefined. */
  async find (records: number[]): Promise<DeltaAnswer | undefined> {
    const worker = this.#start()
    if (worker === undefined) return undefined

    const id = this.#nextId++
    return await new Promise((resolve) => {
      const waiting: Waiting = {
        resolve: (answer) => { clearTimeout(waiting.timer); resolve(answer) },
        timer: this.#giveUpOn(id, this.#online ? this.#answerWithinMs : startWithinMs)
      }
      this.#waiting.set(id, waiting)
      worker.postMessage({ id, records })
    })
  }

  #giveUpOn (id: number, afterMs: number): NodeJS.Timeout {
    return setTimeout(() => this.#settle(id, undefined), afterMs)
  }

  /** Loaded: what waits from now on gets the usual time. */
  #ready (): void {
    this.#online = true
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer)
      waiting.timer = this.#giveUpOn(id, this.#answerWithinMs)
    }
  }

  async close (): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    this.#failed = true
    for (const id of [...this.#waiting.keys()]) this.#settle(id, undefined)
    await worker?.terminate()
  }

  #start (): Worker | undefined {
    if (this.#worker !== undefined || this.#failed) return this.#worker

    try {
      const worker = new Worker(this.#entry, { workerData: this.#arena })
      worker.on('message', (message: DeltaAnswer | 'ready') => {
        if (message === 'ready') this.#ready()
        else this.#settle(message.id, message)
      })
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

  #settle (id: number, answer: DeltaAnswer | undefined): void {
    const waiting = this.#waiting.get(id)
    this.#waiting.delete(id)
    waiting?.resolve(answer)
  }

  #fail (error: unknown): void {
    if (this.#failed) return

    this.#failed = true
    this.#worker = undefined
    for (const id of [...this.#waiting.keys()]) this.#settle(id, undefined)
    this.#logger.warn({ err: error }, 'the thread that finds the differences of answers stopped: pairs are queued with both bodies whole from now on (they take more room in Redis; nothing is lost)')
  }
}
