import { percentile } from './latency-stats.js'

/** The range a figure could have come out in by chance, at the level it was drawn for. */
export interface Interval {
  low: number
  high: number
}

export interface ResampleOptions {
  /** How many times the cycles are drawn again. Default 500. */
  draws?: number
  /** The share of the draws' figures the interval holds. Default 0.9. */
  level?: number
  /** The same seed gives the same draws, so the same run's data gives the same interval. Default 1. */
  seed?: number
}

/**
 * A bootstrap over cycles: how far a figure measured over `cycles` cycles
 * moves when other cycles like them had been measured. The cycles are
 * drawn again, with replacement and as many as there were; the figure is
 * computed on each draw; the middle `level` of those figures is the
 * interval, as many draws left out above it as below. Every side of a
 * comparison is computed on the same draw, so a cycle the machine slowed
 * down weighs on both sides, as it did when measured. A draw whose figure
 * is not a number (a side without answers) leaves no interval: both ends
 * are NaN.
 */
export function cycleInterval (
  cycles: number, figure: (picked: readonly number[]) => number, options: ResampleOptions = {}
): Interval {
  const { draws = 500, level = 0.9, seed = 1 } = options
  if (!Number.isInteger(cycles) || cycles < 2) throw new Error(`an interval needs at least 2 cycles, found ${cycles}`)
  if (!(level > 0 && level < 1)) throw new Error(`the level is a share between 0 and 1, found ${level}`)

  const random = seededRandom(seed)
  const picked = new Array<number>(cycles).fill(0)
  const figures = new Float64Array(draws)
  for (let draw = 0; draw < draws; draw++) {
    for (let index = 0; index < cycles; index++) picked[index] = Math.floor(random() * cycles)
    figures[draw] = figure(picked)
  }
  if (figures.some(Number.isNaN)) return { low: Number.NaN, high: Number.NaN }

  figures.sort()
  // The draws left out, half at each end; counted from those held, as (1 - level) / 2 is not exact in floating point.
  const outside = Math.floor((draws - Math.round(level * draws)) / 2)
  return { low: figures[outside] ?? Number.NaN, high: figures[draws - 1 - outside] ?? Number.NaN }
}

/**
 * A verdict the run cannot tell from its limit: part of its interval lies
 * on the other side. `within` says whether a value meets the limit. A
 * verdict failed for errors is not in doubt, nor is one without interval.
 */
export function straddles (interval: Interval, within: (value: number) => boolean, pass: boolean, errors: number): boolean {
  if (errors > 0 || Number.isNaN(interval.low) || Number.isNaN(interval.high)) return false

  const ends = [interval.low, interval.high]
  return pass ? !ends.every(within) : ends.some(within)
}

/**
 * Slices of values (latencies), to be pooled over many choices of cycles.
 * Every value is sorted once, with the slice it came from; a percentile
 * over picked slices then walks in from the nearer end, weighing each
 * value by how often its slice was picked, rather than pooling and
 * sorting every draw anew.
 */
export class PooledSlices {
  readonly #sizes: number[]
  readonly #values: Float64Array
  readonly #sliceOf: Uint32Array

  constructor (slices: readonly Float64Array[]) {
    this.#sizes = slices.map((slice) => slice.length)
    const tagged = slices.flatMap((slice, index) => Array.from(slice, (value) => [value, index] as const))
    tagged.sort((a, b) => a[0] - b[0])
    this.#values = Float64Array.from(tagged, ([value]) => value)
    this.#sliceOf = Uint32Array.from(tagged, ([, index]) => index)
  }

  /** A percentile, by nearest rank, of the values of the picked slices taken together (a slice picked twice counts twice). */
  percentile (picked: readonly number[], fraction: number): number {
    const weights = new Array<number>(this.#sizes.length).fill(0)
    let total = 0
    for (const index of picked) {
      const size = this.#sizes[index]
      if (size === undefined) throw new Error(`no slice ${index}: there are ${this.#sizes.length}`)
      weights[index] = (weights[index] ?? 0) + 1
      total += size
    }
    if (total === 0) return Number.NaN

    const rank = Math.min(total, Math.max(1, Math.ceil(fraction * total)))
    return rank > total / 2 ? this.#walkDown(weights, total - rank + 1) : this.#walkUp(weights, rank)
  }

  /** The value at `rank` counted from the smallest. */
  #walkUp (weights: number[], rank: number): number {
    let counted = 0
    for (let at = 0; at < this.#values.length; at++) {
      counted += weights[this.#sliceOf[at] ?? 0] ?? 0
      if (counted >= rank) return this.#values[at] ?? Number.NaN
    }
    return Number.NaN
  }

  /** The value at `rank` counted from the largest. */
  #walkDown (weights: number[], rank: number): number {
    let counted = 0
    for (let at = this.#values.length - 1; at >= 0; at--) {
      counted += weights[this.#sliceOf[at] ?? 0] ?? 0
      if (counted >= rank) return this.#values[at] ?? Number.NaN
    }
    return Number.NaN
  }
}

/** The values of the picked slices taken together, sorted (a slice picked twice counts twice). */
export function poolSlices (slices: readonly Float64Array[], picked: readonly number[]): Float64Array {
  const chosen = picked.map((index) => {
    const slice = slices[index]
    if (slice === undefined) throw new Error(`no slice ${index}: there are ${slices.length}`)
    return slice
  })
  const pooled = new Float64Array(chosen.reduce((sum, slice) => sum + slice.length, 0))
  let offset = 0
  for (const slice of chosen) {
    pooled.set(slice, offset)
    offset += slice.length
  }

  return pooled.sort()
}

/** Every index below `count`, each once: the cycles as measured. */
export function everyCycle (count: number): number[] {
  return Array.from({ length: count }, (_, index) => index)
}

/** Numbers in [0, 1) from a 32-bit xorshift: cheap, and the same for the same seed. */
function seededRandom (seed: number): () => number {
  let state = (seed >>> 0) === 0 ? 0x9e3779b9 : seed >>> 0

  return () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state / 0x1_0000_0000
  }
}
