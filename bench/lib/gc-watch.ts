import { constants, PerformanceObserver } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

/** Garbage collection pauses of this process while the watch ran, in ms by kind. */
export interface GcWatch {
  stop: () => Promise<Record<string, number>>
}

/** The kind names prom-client gives the same pauses, so both sides read alike. */
const kindNames = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb']
])

export function watchGc (): GcWatch {
  const totals: Record<string, number> = {}
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as unknown as { detail?: { kind?: number } }
      const kind = kindNames.get(detail?.kind ?? -1) ?? 'other'
      totals[kind] = (totals[kind] ?? 0) + entry.duration
    }
  })
  observer.observe({ entryTypes: ['gc'] })

  return {
    // Entries reach the observer on a later turn of the event loop: a
    // synchronous loop's pauses are delivered only once it has ended.
    stop: async () => {
      await sleep(5)
      observer.disconnect()
      return { ...totals }
    }
  }
}
