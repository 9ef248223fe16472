import type { HistoryEntry } from '../store/rollout-store.js'

/** A change of percentage as the charts mark it. Times are epoch ms. */
export interface PercentageChange {
  at: number
  action: string
  actor: string
  from: number
  to: number
}

/**
 * A route's percentage over time, rebuilt from its history: each entry
 * says when the percentage went from what to what. Pure.
 *
 * Not every write leaves a history entry (a state seeded from the
 * configuration, one written by hand into Redis), so the current
 * percentage, not the last entry, is what the route serves at `now`.
 */
export class PercentageTimeline {
  readonly #changes: PercentageChange[]
  readonly #current: number
  readonly #now: number

  /** `history` in any order; the store keeps it newest first. */
  constructor (history: readonly HistoryEntry[], current: number, now: number) {
    this.#changes = history
      .map(({ at, action, actor, from, to }) => ({ at, action, actor, from, to }))
      .sort((a, b) => a.at - b.at)
    this.#current = current
    this.#now = now
  }

  /** The percentage in force at a time: the last change at or before it. */
  at (time: number): number {
    if (time >= this.#now) return this.#current

    const last = findLastAtOrBefore(this.#changes, time)
    if (last !== undefined) return last.to

    // Before the oldest entry kept: where that entry started from.
    return this.#changes[0]?.from ?? this.#current
  }

  /** The changes within [from, to], oldest first. */
  between (from: number, to: number): PercentageChange[] {
    return this.#changes.filter((change) => change.at >= from && change.at <= to)
  }
}

/** Binary search: changes are sorted by time. */
function findLastAtOrBefore (changes: readonly PercentageChange[], time: number): PercentageChange | undefined {
  let low = 0
  let high = changes.length - 1
  let found: PercentageChange | undefined
  while (low <= high) {
    const middle = (low + high) >> 1
    const change = changes[middle] as PercentageChange
    if (change.at <= time) {
      found = change
      low = middle + 1
    } else {
      high = middle - 1
    }
  }

  return found
}
