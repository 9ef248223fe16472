import { performance } from 'node:perf_hooks'
import { readMainThreadSchedule, scheduleBetween, type ThreadSchedule } from './thread-schedule.js'

export interface TimedLoopResult {
  iterations: number
  elapsedMs: number
  perSecond: number
  usPerIteration: number
  /** CPU time this process used meanwhile; above elapsedMs when GC helpers ran on other threads. */
  cpuMs: number
  /** This thread's time on a CPU and waiting for one (NaN where unknown). */
  mainThread: ThreadSchedule
}

/** The clock is read once per this many iterations: reading it costs more than nothing. */
const iterationsPerCheck = 8

/**
 * Runs `work` over the items in a tight loop for about `durationMs`, in
 * this process and on this thread. `work` returns a number that is summed
 * and handed to `check`, so no result is thrown away unseen.
 */
export function runTimedLoop<T> (
  items: readonly T[], work: (item: T) => number, durationMs: number,
  check?: (sum: number, iterations: number) => void
): TimedLoopResult {
  const cpuBefore = process.cpuUsage()
  const scheduleBefore = readMainThreadSchedule()
  const started = performance.now()
  const deadline = started + durationMs
  let iterations = 0
  let sum = 0
  let now = started
  while (now < deadline) {
    for (let step = 0; step < iterationsPerCheck; step++) {
      sum += work(items[iterations % items.length] as T)
      iterations++
    }
    now = performance.now()
  }

  const elapsedMs = now - started
  const cpu = process.cpuUsage(cpuBefore)
  const mainThread = scheduleBetween(scheduleBefore, readMainThreadSchedule())
  check?.(sum, iterations)

  return {
    iterations,
    elapsedMs,
    perSecond: (iterations * 1_000) / elapsedMs,
    usPerIteration: (elapsedMs * 1_000) / iterations,
    cpuMs: (cpu.user + cpu.system) / 1_000,
    mainThread
  }
}
