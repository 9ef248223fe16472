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
  /** The same seed gives the same draws, so an interval can be computed again from its run's data. Default 1. */
  seed?: number
}

/**
 * A bootstrap over cycles: how far a figure measured over `cycles` cycles
 * moves when other cycles like them had been measured. The cycles are
 * drawn again, with replacement and as many as there were; the figure is
 * computed on each draw; the middle `level` of those figures is the
 * interval. Every side of a comparison is computed on the same draw, so a
 * cycle the machine slowed down weighs on both sides, as it did when
 * measured.
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
  figures.sort()
  const tail = (1 - level) / 2

  return { low: percentile(figures, tail), high: percentile(figures, 1 - tail) }
}

/** A percentile of the values of the picked slices taken together (a slice picked twice counts twice). */
export function pooledPercentile (slices: readonly Float64Array[], picked: readonly number[], fraction: number): number {
  return percentile(poolSlices(slices, picked), fraction)
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
