import { bucketMs } from '../store/diff-aggregates.js'
import { latencyBucket } from '../store/latency-histogram.js'
import { emptyLiveFigures, type LiveFigures } from '../store/live-figures.js'
import type { BackendName } from './upstream.js'

export interface CountedFigures {
  route: string
  bucket: number
  figures: LiveFigures
}

/** Buckets held while they cannot be written: five minutes' worth, then the oldest go. */
const maxHeldBuckets = 30

/**
 * Counts each route's live requests, errors, fallbacks and answer times in
 * memory, per time bucket. The live path only adds to numbers here; a
 * flusher takes the counts about once a second and writes them to Redis.
 */
export class LiveCounter {
  readonly #now: () => number
  #counts = new Map<string, CountedFigures>()

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  attempted (route: string, backend: BackendName, failed: boolean, seconds: number | undefined): void {
    const side = this.#figures(route)[backend]
    side.requests++
    if (failed) side.errors++
    if (seconds === undefined) return

    const bucket = latencyBucket(seconds * 1_000)
    side.latency[bucket] = (side.latency[bucket] ?? 0) + 1
  }

  fellBack (route: string, backend: BackendName): void {
    this.#figures(route)[backend].fallbacks++
  }

  /** Everything counted so far; the counter starts again from zero. */
  take (): CountedFigures[] {
    const taken = [...this.#counts.values()]
    this.#counts = new Map()

    return taken
  }

  /** Puts back counts that could not be written, to be written with the next ones. */
  restore (counted: CountedFigures[]): void {
    for (const entry of counted) {
      const figures = this.#figures(entry.route, entry.bucket)
      for (const side of ['candidate', 'baseline'] as const) {
        const into = figures[side]
        const from = entry.figures[side]
        into.requests += from.requests
        into.errors += from.errors
        into.fallbacks += from.fallbacks
        from.latency.forEach((count, index) => { into.latency[index] = (into.latency[index] ?? 0) + count })
      }
    }
    while (this.#counts.size > maxHeldBuckets) this.#counts.delete(this.#counts.keys().next().value as string)
  }

  #figures (route: string, bucket = Math.floor(this.#now() / bucketMs)): LiveFigures {
    const key = `${bucket}\u0000${route}`
    let entry = this.#counts.get(key)
    if (entry === undefined) {
      entry = { route, bucket, figures: emptyLiveFigures() }
      this.#counts.set(key, entry)
    }

    return entry.figures
  }
}
