import type { NotComparable } from './decode.js'
import type { ReportedValue } from './json-value.js'

/**
 * How a field differs. `null-vs-missing`: one side has the key with the
 * value null, the other has no such key; the three states null, missing
 * and empty ('', [], {}) are otherwise kept apart.
 */
export type DifferenceKind =
  | 'changed' | 'only-in-baseline' | 'only-in-candidate' | 'type-changed' | 'null-vs-missing'

/**
 * Every occurrence of one kind of difference at one collapsed path in a
 * pair, with one of them as the example (the first deep-diff reports,
 * which in an array is the one at the highest index).
 */
export interface Difference {
  /**
   * Field path with array indices collapsed: `items[*].price`. '' is the
   * whole body; `@headers.<name>` is a response header.
   */
  path: string
  kind: DifferenceKind
  /**
   * The example's value in the baseline's answer; absent when only the
   * candidate has the field.
   *
   * TODO(fix): values are not truncated: a type change at the root
   * carries the whole body, so whoever stores examples must bound them.
   */
  baseline?: ReportedValue
  /** The example's value in the candidate's answer; absent when only the baseline has the field. */
  candidate?: ReportedValue
  /**
   * Where the example is, with real indices: `items[3].price`. In an
   * unordered array an element is named by its index in the side that has
   * it, the baseline's when both do.
   */
  at: string
  /** Occurrences in this pair, e.g. one per array element that differs. */
  count: number
}

/** The rule that let a difference through as expected. */
export type IgnoringRule =
  | 'ignorePaths' | 'ignoreHeaders' | 'numericTolerance' | 'nullEqualsMissing'

export interface IgnoredDifference extends Difference {
  rule: IgnoringRule
  /** The rule's path pattern or header name; absent for nullEqualsMissing. */
  pattern?: string
}

/** What comparing a pair found, split by what explains each difference. */
export interface Findings {
  /** Divergences: differences no rule and no noise explains. */
  differences: Difference[]
  /** Differences a normalization rule explains. */
  ignored: IgnoredDifference[]
  /** Differences the baseline also shows between two of its own answers (see noise.ts). */
  noise: Difference[]
  /**
   * Occurrences counted but not listed once a list holds maxDifferences
   * distinct entries. Omitted divergences still make a pair diverging.
   */
  omitted: { differences: number, ignored: number }
}

/**
 * The outcome for one pair. An ignored or noisy difference never makes a
 * pair identical: a pair whose differences are all explained is
 * `noise-only`, so it can be counted on its own.
 */
export type Verdict =
  | { kind: 'identical' }
  | ({ kind: 'diverging' } & Findings)
  | ({ kind: 'noise-only' } & Findings)
  | ({ kind: 'status-mismatch' } & StatusMismatch & Findings)
  | { kind: 'not-comparable', reason: NotComparable }

export interface StatusMismatch {
  baselineStatus: number
  candidateStatus: number
  /** Why the bodies could not be compared as well, when they could not. */
  bodyNotComparable?: NotComparable
}

export type VerdictKind = Verdict['kind']

/** Identical, noise-only or diverging, from what a same-status pair showed. */
export function settleVerdict (findings: Findings): Verdict {
  const diverging = findings.differences.length > 0 || findings.omitted.differences > 0
  if (diverging) return { kind: 'diverging', ...findings }

  const explained = findings.ignored.length + findings.noise.length + findings.omitted.ignored
  if (explained > 0) return { kind: 'noise-only', ...findings }

  return { kind: 'identical' }
}
