import type { ReportedValue } from './json-value.js'
import type {
  Difference, DifferenceKind, Findings, IgnoredDifference, IgnoringRule
} from './verdict.js'

/** The example occurrence of a difference, built only when it is kept. */
export interface Example {
  at: string
  baseline?: ReportedValue | undefined
  candidate?: ReportedValue | undefined
}

/** Which rule explains a difference, and by which of its patterns. */
export interface Ignoring {
  rule: IgnoringRule
  pattern?: string
}

/**
 * Gathers a pair's differences, one entry per path and kind. An object
 * keyed by ids has as many paths as ids, so each list stops growing at
 * `maxDistinct` entries and only counts the rest.
 */
export class FindingsCollector {
  private readonly differences = new Map<string, Difference>()
  private readonly ignored = new Map<string, IgnoredDifference>()
  private readonly omitted = { differences: 0, ignored: 0 }

  constructor (private readonly maxDistinct: number) {}

  add (path: string, kind: DifferenceKind, describe: () => Example, ignoring?: Ignoring): void {
    const id = `${kind} ${path}`
    const list = ignoring === undefined ? 'differences' : 'ignored'
    const entries: Map<string, Difference> = this[list]
    const known = entries.get(id)
    if (known !== undefined) {
      known.count++
      return
    }
    if (entries.size >= this.maxDistinct) {
      this.omitted[list]++
      return
    }

    entries.set(id, { path, kind, ...dropAbsent(describe()), count: 1, ...ignoring })
  }

  findings (): Findings {
    return {
      differences: [...this.differences.values()],
      ignored: [...this.ignored.values()],
      noise: [],
      omitted: { ...this.omitted }
    }
  }
}

/** Leaves out absent sides instead of writing `baseline: undefined`. */
function dropAbsent (example: Example): Example {
  const kept: Example = { at: example.at }
  if (example.baseline !== undefined) kept.baseline = example.baseline
  if (example.candidate !== undefined) kept.candidate = example.candidate

  return kept
}
