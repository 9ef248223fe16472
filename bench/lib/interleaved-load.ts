import { setTimeout as sleep } from 'node:timers/promises'
import { measureClosedLoop } from './closed-loop.js'
import { summarizeLatencies, type LatencySummary } from './latency-stats.js'
import { measureOpenLoop } from './open-loop.js'

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
  /** At least 2: the halves are compared. */
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
  /** Pooled figures of the first and of the second half of the cycles: how far the halves agree. */
  halves: [LatencySummary, LatencySummary]
}

export interface PooledThroughput {
  requestsPerSecond: number
  failed: number
  halves: [number, number]
}

/** Fixed-rate slices in turns; each target's latencies are pooled over its slices. */
export async function measureInterleavedOpenLoop<Name extends string> (
  options: InterleavedOpenLoopOptions<Name>
): Promise<Record<Name, PooledLatency>> {
  const latencies = mapTargets(options.targets, (): [number[], number[]] => [[], []])
  const failed = mapTargets(options.targets, () => 0)

  await runInTurns(options, async (name, url, half) => {
    const result = await measureOpenLoop({
      url,
      ratePerSecond: options.ratePerSecond,
      durationSeconds: options.sliceSeconds,
      connections: options.connections,
      onAnswer: (_dueAtMs, latencyMs) => { latencies[name][half].push(latencyMs) }
    })
    failed[name] += result.errors + result.non2xx + result.unfinished
  })

  return mapTargets(options.targets, (name) => {
    const [first, second] = latencies[name]
    return {
      ...summarizeLatencies([...first, ...second]),
      answered: first.length + second.length,
      failed: failed[name],
      halves: [summarizeLatencies(first), summarizeLatencies(second)]
    }
  })
}

/** Saturation slices in turns; each target's rate is its answers over its time under load. */
export async function measureInterleavedClosedLoop<Name extends string> (
  options: InterleavedClosedLoopOptions<Name>
): Promise<Record<Name, PooledThroughput>> {
  const answered = mapTargets(options.targets, (): [number, number] => [0, 0])
  const seconds = mapTargets(options.targets, (): [number, number] => [0, 0])
  const failed = mapTargets(options.targets, () => 0)

  await runInTurns(options, async (name, url, half) => {
    const result = await measureClosedLoop({
      url, connections: options.connections, durationSeconds: options.sliceSeconds
    })
    answered[name][half] += result.responses
    seconds[name][half] += result.seconds
    failed[name] += result.errors + result.timeouts + result.non2xx
  })

  return mapTargets(options.targets, (name) => {
    const [first, second] = answered[name]
    const [firstSeconds, secondSeconds] = seconds[name]
    return {
      requestsPerSecond: (first + second) / (firstSeconds + secondSeconds),
      failed: failed[name],
      halves: [first / firstSeconds, second / secondSeconds]
    }
  })
}

async function runInTurns<Name extends string> (
  options: InterleaveOptions<Name>,
  measure: (name: Name, url: string, half: 0 | 1) => Promise<void>
): Promise<void> {
  if (options.cycles < 2) throw new Error(`interleaved load needs at least 2 cycles, found ${options.cycles}`)

  const names = Object.keys(options.targets) as Name[]
  // The first half takes the extra cycle when their number is odd.
  const firstHalfCycles = Math.ceil(options.cycles / 2)
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const half = cycle < firstHalfCycles ? 0 : 1
    for (const name of names) {
      await measure(name, options.targets[name], half)
      await options.afterSlice?.(name)
      await sleep(options.gapMs)
    }
  }
}

function mapTargets<Name extends string, T> (targets: Record<Name, string>, make: (name: Name) => T): Record<Name, T> {
  const names = Object.keys(targets) as Name[]
  return Object.fromEntries(names.map((name) => [name, make(name)])) as Record<Name, T>
}
