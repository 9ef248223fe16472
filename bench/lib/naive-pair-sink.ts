import { Queue } from 'bullmq'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import type { PairSink } from '../../src/shadow/shadow-mirror.js'

export interface NaivePairSinkOptions {
  redisUrl: string
  /** BullMQ prefix: keys are `<prefix>:<queueName>:…`. */
  prefix: string
  queueName: string
  /**
   * Adds awaiting Redis at once, beyond which pairs are dropped. Not part
   * of the naive design: only keeps a benchmark's memory bounded should
   * Redis fall far behind. Default 10 000 (arbitrary).
   */
  maxAdding?: number
  /** Told once when the bound above first drops a pair, and when an add fails. */
  onTrouble?: (message: string) => void
}

type NaiveResponse = Omit<CapturedResponse, 'body'> & { body?: string }

export interface NaivePairJob extends Omit<Pair, 'request' | 'baseline' | 'candidate' | 'baselineRepeat'> {
  request: Omit<Pair['request'], 'body'> & { body?: string }
  baseline: NaiveResponse
  candidate: NaiveResponse
  baselineRepeat?: NaiveResponse
}

/**
 * The design a first implementation of shadow queueing would have, kept
 * as a reference for benchmarks: every pair becomes its own BullMQ job,
 * its bodies base64 strings inside the job's JSON data, added from the
 * gateway's event loop as the pair completes. No batching, no binary
 * string, no bound on the queue's depth.
 */
export class NaivePairSink implements PairSink {
  readonly #queue: Queue<NaivePairJob>
  readonly #maxAdding: number
  readonly #onTrouble: (message: string) => void
  #adding = 0
  #told = new Set<string>()

  constructor (options: NaivePairSinkOptions) {
    this.#queue = new Queue<NaivePairJob>(options.queueName, {
      connection: { url: options.redisUrl },
      prefix: options.prefix
    })
    this.#maxAdding = options.maxAdding ?? 10_000
    this.#onTrouble = options.onTrouble ?? (() => {})
    this.#queue.on('error', (error) => this.#tellOnce(`naive pair queue error: ${error.message}`))
  }

  add (pair: Pair): void {
    if (this.#adding >= this.#maxAdding) {
      this.#tellOnce(`naive pair sink: ${this.#maxAdding} adds waiting for Redis, pairs dropped`)
      return
    }

    this.#adding += 1
    this.#queue.add('pair', toJobData(pair), { removeOnComplete: true })
      .catch((error: Error) => this.#tellOnce(`naive pair sink: add failed: ${error.message}`))
      .finally(() => { this.#adding -= 1 })
  }

  async close (): Promise<void> {
    await this.#queue.close().catch(() => {})
  }

  #tellOnce (message: string): void {
    if (this.#told.has(message)) return

    this.#told.add(message)
    this.#onTrouble(message)
  }
}

export function toJobData (pair: Pair): NaivePairJob {
  const { request, baseline, candidate, baselineRepeat, ...rest } = pair
  const job: NaivePairJob = {
    ...rest,
    request: { ...request, body: request.body?.toString('base64') },
    baseline: toNaiveResponse(baseline),
    candidate: toNaiveResponse(candidate)
  }
  if (baselineRepeat !== undefined) job.baselineRepeat = toNaiveResponse(baselineRepeat)

  return job
}

function toNaiveResponse (response: CapturedResponse): NaiveResponse {
  const { body, ...rest } = response

  return body === undefined ? rest : { ...rest, body: body.toString('base64') }
}
