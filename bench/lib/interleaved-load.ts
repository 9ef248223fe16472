import { setTimeout as sleep } from 'node:timers/promises'
import { measureClosedLoop } from './closed-loop.js'
import { readStealMs } from './host-steal.js'
import { summarizeLatencies, type LatencySummary } from './latency-stats.js'
import { measureOpenLoop } from './open-loop.js'
import { everyCycle, poolSlices } from './resample.js'

/**
 * Several targets measured in turns of one short slice each, over and over,
 * rather than one after the other in long phases. On a machine that others
 * slow down now and then, for seconds at a time, a long phase takes all of
 * a slowdown on one side of a comparison; short turns spread it over every
 * side alike, and what is left between them is the targets' own doing.
 *
 * Every cycle keeps the same order (A B C, A B C), so every target waits
 * as long between its slices: idle time closes keep-alive connections and
 * cools caches, and an order that alternated would give the targets at its
 * ends two slices back to back every other cycle. Between two slices the
 * load pauses for `gapMs`, which lets late work of the last target (a slow
 * shadow's answers) end before the next one is timed.
 */
export interface InterleaveOptions<Name extends string> {
  /** Each target's URL (loopback only), in the order of every cycle. */
  targets: Record<Name, string>
  /** At least 2: the figures are resampled over cycles (resample.ts). */
  cycles: number
  sliceSeconds: number
  gapMs: number
  /** Called after every slice, e.g. to empty the queue the target filled. */
  afterSlice?: (name: Name) => Promise<void>
}

export interface InterleavedOpenLoopOptions<Name extends string> extends InterleaveOptions<Name> {
  ratePerSecond: number
  connections: number
}

export interface InterleavedClosedLoopOptions<Name extends string> extends InterleaveOptions<Name> {
  connections: number
}

/** One target's answers, pooled over all its slices. */
export interface PooledLatency extends LatencySummary {
  answered: number
  /** Errors, answers other than 2xx, and requests unanswered at the end of a slice. */
  failed: number
  /**
   * Each slice's latencies (ms), sorted, in the order of the cycles: the
   * figures can be pooled again over any choice of cycles (resample.ts).
   */
  slices: Float64Array[]
  /** What the host took from this machine during each slice, in ms (host-steal.ts); NaN where unknown. */
  sliceStealMs: number[]
}

/** What one saturation slice served. */
export interface ThroughputSlice {
  answered: number
  /** The time the slice was under load. */
  seconds: number
}

export interface PooledThroughput {
  requestsPerSecond: number
  failed: number
  /** Each slice, in the order of the cycles. */
  slices: ThroughputSlice[]
  /** What the host took from this machine during each slice, in ms (host-steal.ts); NaN where unknown. */
  sliceStealMs: number[]
}

/** Fixed-rate slices in turns; each target's latencies are pooled over its slices. */
export async function measureInterleavedOpenLoop<Name extends string> (
  options: InterleavedOpenLoopOptions<Name>
): Promise<Record<Name, PooledLatency>> {
  const { slices, failed, stealMs } = await collectInTurns(options, async (url) => {
    const latencies: number[] = []
    const result = await measureOpenLoop({
      url,
      ratePerSecond: options.ratePerSecond,
      durationSeconds: options.sliceSeconds,
      connections: options.connections,
      onAnswer: (_dueAtMs, latencyMs) => { latencies.push(latencyMs) }
    })
    return { slice: Float64Array.from(latencies).sort(), failed: result.errors + result.non2xx + result.unfinished }
  })

  return mapTargets(options.targets, (name) => {
    const pooled = poolSlices(slices[name], everyCycle(slices[name].length))
    return { ...summarizeLatencies(pooled), answered: pooled.length, failed: failed[name], slices: slices[name], sliceStealMs: stealMs[name] }
  })
}

/** Saturation slices in turns; each target's rate is its answers over its time under load. */
export async function measureInterleavedClosedLoop<Name extends string> (
  options: InterleavedClosedLoopOptions<Name>
): Promise<Record<Name, PooledThroughput>> {
  const { slices, failed, stealMs } = await collectInTurns(options, async (url) => {
    const result = await measureClosedLoop({
      url, connections: options.connections, durationSeconds: options.sliceSeconds
    })
    return { slice: { answered: result.responses, seconds: result.seconds }, failed: result.errors + result.timeouts + result.non2xx }
  })

  return mapTargets(options.targets, (name) => ({
    requestsPerSecond: rateOver(slices[name], everyCycle(slices[name].length)),
    failed: failed[name],
    slices: slices[name],
    sliceStealMs: stealMs[name]
  }))
}

/** Answers a second over the picked slices taken together (a slice picked twice counts twice). */
export function rateOver (slices: readonly ThroughputSlice[], picked: readonly number[]): number {
  let answered = 0
  let seconds = 0
  for (const index of picked) {
    const slice = slices[index]
    if (slice === undefined) throw new Error(`no slice ${index}: there are ${slices.length}`)
    answered += slice.answered
    seconds += slice.seconds
  }

  return answered / seconds
}

/**
 * Runs the turns: each target's slices in the order of the cycles, its
 * failures added up, and what the host took from the machine during each
 * of its slices.
 */
async function collectInTurns<Name extends string, Slice> (
  options: InterleaveOptions<Name>,
  measure: (url: string) => Promise<{ slice: Slice, failed: number }>
): Promise<{ slices: Record<Name, Slice[]>, failed: Record<Name, number>, stealMs: Record<Name, number[]> }> {
  if (options.cycles < 2) throw new Error(`interleaved load needs at least 2 cycles, found ${options.cycles}`)

  const slices = mapTargets(options.targets, (): Slice[] => [])
  const failed = mapTargets(options.targets, () => 0)
  const stealMs = mapTargets(options.targets, (): number[] => [])
  const names = Object.keys(options.targets) as Name[]
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    for (const name of names) {
      const stealBefore = readStealMs() ?? Number.NaN
      const measured = await measure(options.targets[name])
      stealMs[name].push((readStealMs() ?? Number.NaN) - stealBefore)
      slices[name].push(measured.slice)
      failed[name] += measured.failed
      await options.afterSlice?.(name)
      await sleep(options.gapMs)
    }
  }

  return { slices, failed, stealMs }
}

function mapTargets<Name extends string, T> (targets: Record<Name, string>, make: (name: Name) => T): Record<Name, T> {
  const names = Object.keys(targets) as Name[]
  return Object.fromEntries(names.map((name) => [name, make(name)])) as Record<Name, T>
}
