import deepDiff from 'deep-diff'
import type { Diff, PreFilterObject } from 'deep-diff'
import {
  identifyElement, matchElements, writeCanonical, type LeaveOut
} from './element-matching.js'
import { renderPath, type PathStep } from './field-path.js'
import type { Example, FindingsCollector, Ignoring } from './findings-collector.js'
import {
  areEqual, getJsonType, isJsonObject, isNumeric, reportValue, type JsonValue
} from './json-value.js'
import {
  findIgnoringPattern, findToleranceRule, findUnorderedRule,
  type CompiledRules, type ToleranceMatcher, type UnorderedMatcher
} from './rules.js'
import type { DifferenceKind } from './verdict.js'

/*
 * The structural diff of two JSON values: deep-diff walks them, and each of
 * its changes (N new, D deleted, E edited, A array element) is translated
 * into a difference and sorted into divergences or ignored ones.
 *
 * Rules are applied after deep-diff, to its changes, rather than by
 * removing fields before it runs: an ignored difference must still be
 * reported as ignored, and nothing is copied or rewritten, which keeps a
 * worker's cost close to deep-diff's own. The one rule applied during the
 * walk is the unordered array, because it changes which elements are
 * compared at all; deep-diff's `normalize` hook hands such arrays over to
 * matchElements.
 *
 * deep-diff 1.0.2 quirks this relies on or works around:
 * - a change at the root carries no `path`;
 * - null against an object is an E (their types differ), never a descent
 *   into null; the same goes for an array against an object;
 * - array elements are visited from the last index down;
 * - a key '' that only the candidate has is skipped silently (deep-diff
 *   tests keys for truthiness), so it is looked for here;
 * - its own orderIndependentDiff sorts the caller's arrays in place by a
 *   weak hash, and is not used.
 */

type Path = PathStep[]

/** A difference found, before it is rendered and counted. */
interface Change {
  path: Path
  kind: DifferenceKind
  baseline?: JsonValue | undefined
  candidate?: JsonValue | undefined
}

/** deep-diff sees two equal numbers and looks no further. */
const alreadyCompared: [JsonValue, JsonValue] = [0, 0]

/**
 * Binary doubles cannot hold most decimals: 10.3 - 10.2 is a little over
 * 0.1. Two units in the last place of the larger value keep such a
 * boundary case within a tolerance of 0.1.
 */
const toleranceSlackUlps = 2

export function diffJson (
  baseline: JsonValue, candidate: JsonValue, rules: CompiledRules,
  collector: FindingsCollector, exactIntegers: boolean
): void {
  new JsonDiff(rules, collector, exactIntegers).diffValues(baseline, candidate, [])
}

class JsonDiff {
  private readonly leaveOut: LeaveOut

  constructor (
    private readonly rules: CompiledRules,
    private readonly collector: FindingsCollector,
    private readonly exactIntegers: boolean
  ) {
    this.leaveOut = (path, value) => this.isLeftOutOfIdentity(path, value)
  }

  diffValues (baseline: JsonValue, candidate: JsonValue, path: Path): void {
    if (areEqual(baseline, candidate)) return

    const unordered = this.findUnordered(baseline, candidate, path)
    if (unordered !== undefined) {
      this.diffUnordered(baseline as JsonValue[], candidate as JsonValue[], path, unordered)
      return
    }

    this.reportEmptyKey(baseline, candidate, path)
    deepDiff.diff(baseline, candidate, this.createHook(path), {
      length: 0,
      push: (change: Diff<JsonValue>) => this.record(path, change)
    })
  }

  private createHook (base: Path): PreFilterObject<JsonValue, JsonValue> {
    return {
      normalize: (parent: Path, key: PathStep, baseline: JsonValue, candidate: JsonValue) =>
        this.visitChild(base, parent, key, baseline, candidate)
    }
  }

  /**
   * Called by deep-diff before it compares each nested value. Equal
   * subtrees are skipped here: a plain equality walk costs a fraction of
   * deep-diff's (which copies the path at every node), and most of a pair
   * is equal, so the path is only built for the few values that are not.
   */
  private visitChild (
    base: Path, parent: Path, key: PathStep, baseline: JsonValue, candidate: JsonValue
  ): [JsonValue, JsonValue] | undefined {
    if (typeof baseline !== 'object' || typeof candidate !== 'object') return undefined
    if (areEqual(baseline, candidate)) return alreadyCompared

    const path = [...base, ...parent, key]
    this.reportEmptyKey(baseline, candidate, path)
    const unordered = this.findUnordered(baseline, candidate, path)
    if (unordered === undefined) return undefined

    this.diffUnordered(baseline as JsonValue[], candidate as JsonValue[], path, unordered)

    return alreadyCompared
  }

  private findUnordered (
    baseline: JsonValue, candidate: JsonValue, path: Path
  ): UnorderedMatcher | undefined {
    if (this.rules.unorderedArrays.length === 0) return undefined
    if (!Array.isArray(baseline) || !Array.isArray(candidate)) return undefined

    return findUnorderedRule(this.rules, path)
  }

  private diffUnordered (
    baseline: JsonValue[], candidate: JsonValue[], path: Path, rule: UnorderedMatcher
  ): void {
    const writeContent = (element: JsonValue, index: number): string =>
      writeCanonical(element, [...path, index], this.leaveOut)
    const identify = (element: JsonValue, index: number): string =>
      identifyElement(element, rule.key, (content) => writeContent(content, index))
    const matching = matchElements(baseline, candidate, identify)

    for (const [inBaseline, inCandidate] of matching.pairs) {
      const pairedWith = candidate[inCandidate] as JsonValue
      this.diffValues(baseline[inBaseline] as JsonValue, pairedWith, [...path, inBaseline])
    }
    for (const index of matching.onlyInBaseline) {
      this.add({ path: [...path, index], kind: 'only-in-baseline', baseline: baseline[index] })
    }
    for (const index of matching.onlyInCandidate) {
      this.add({ path: [...path, index], kind: 'only-in-candidate', candidate: candidate[index] })
    }
  }

  /** Ignored fields and, with nullEqualsMissing, nulls do not make two elements different. */
  private isLeftOutOfIdentity (path: readonly PathStep[], value: JsonValue): boolean {
    if (value === null && this.rules.nullEqualsMissing) return true

    return findIgnoringPattern(this.rules, path) !== undefined
  }

  /** deep-diff skips a key '' that only the candidate has. */
  private reportEmptyKey (baseline: JsonValue, candidate: JsonValue, path: Path): void {
    if (!isJsonObject(baseline) || !isJsonObject(candidate)) return
    if (!Object.hasOwn(candidate, '') || Object.hasOwn(baseline, '')) return

    this.recordPresence([...path, ''], undefined, candidate[''])
  }

  private record (base: Path, change: Diff<JsonValue>): void {
    const path = change.path === undefined ? base : [...base, ...change.path as Path]
    if (change.kind === 'A') this.recordElement([...path, change.index], change.item)
    else if (change.kind === 'N') this.recordPresence(path, undefined, change.rhs)
    else if (change.kind === 'D') this.recordPresence(path, change.lhs, undefined)
    else this.recordEdit(path, change.lhs, change.rhs)
  }

  /** An array that grew or shrank: the extra elements belong to one side. */
  private recordElement (path: Path, item: Diff<JsonValue>): void {
    if (item.kind === 'N') this.add({ path, kind: 'only-in-candidate', candidate: item.rhs })
    else if (item.kind === 'D') this.add({ path, kind: 'only-in-baseline', baseline: item.lhs })
  }

  /** A key that only one side has; a null there is its own kind. */
  private recordPresence (
    path: Path, baseline: JsonValue | undefined, candidate: JsonValue | undefined
  ): void {
    const present = baseline === undefined ? candidate : baseline
    if (present !== null) {
      const kind = baseline === undefined ? 'only-in-candidate' : 'only-in-baseline'
      this.add({ path, kind, baseline, candidate })
      return
    }

    const change: Change = { path, kind: 'null-vs-missing', baseline, candidate }
    this.add(change, this.rules.nullEqualsMissing ? { rule: 'nullEqualsMissing' } : undefined)
  }

  private recordEdit (path: Path, baseline: JsonValue, candidate: JsonValue): void {
    if (isNumeric(baseline) && isNumeric(candidate)) {
      this.recordNumbers(path, baseline, candidate)
      return
    }

    const kind = getJsonType(baseline) === getJsonType(candidate) ? 'changed' : 'type-changed'
    this.add({ path, kind, baseline, candidate })
  }

  private recordNumbers (path: Path, baseline: number | bigint, candidate: number | bigint): void {
    const gap = measureGap(baseline, candidate)
    if (gap === 0) return

    const tolerance = findToleranceRule(this.rules, path)
    const within = tolerance !== undefined && isWithinTolerance(tolerance, gap, baseline, candidate)
    const change: Change = { path, kind: 'changed', baseline, candidate }
    this.add(change, within ? { rule: 'numericTolerance', pattern: tolerance.pattern } : undefined)
  }

  /** ignorePaths comes first: it explains a difference whatever else would. */
  private add (change: Change, explained?: Ignoring): void {
    const pattern = findIgnoringPattern(this.rules, change.path)
    const ignoring: Ignoring | undefined =
      pattern === undefined ? explained : { rule: 'ignorePaths', pattern }
    const describe = (): Example => this.describe(change)

    this.collector.add(renderPath(change.path, true), change.kind, describe, ignoring)
  }

  private describe ({ path, baseline, candidate }: Change): Example {
    return {
      at: renderPath(path, false),
      baseline: baseline === undefined ? undefined : reportValue(baseline, this.exactIntegers),
      candidate: candidate === undefined ? undefined : reportValue(candidate, this.exactIntegers)
    }
  }
}

/**
 * The distance between two numbers; 0 means equal. Big integers are
 * subtracted exactly, so 2^53+1 and 2^53+2 are 1 apart, not 0.
 */
export function measureGap (baseline: number | bigint, candidate: number | bigint): number {
  if (typeof baseline === 'number' && typeof candidate === 'number') {
    return Math.abs(baseline - candidate)
  }

  const exactBaseline = readIntegral(baseline)
  const exactCandidate = readIntegral(candidate)
  if (exactBaseline === undefined || exactCandidate === undefined) {
    return Math.abs(Number(baseline) - Number(candidate))
  }

  const gap = exactBaseline - exactCandidate

  return Number(gap < 0n ? -gap : gap)
}

function readIntegral (value: number | bigint): bigint | undefined {
  if (typeof value === 'bigint') return value

  return Number.isInteger(value) ? BigInt(value) : undefined
}

/** Within either bound is within; the relative one is a share of the baseline's value. */
function isWithinTolerance (
  rule: ToleranceMatcher, gap: number, baseline: number | bigint, candidate: number | bigint
): boolean {
  const reference = Math.abs(Number(baseline))
  const larger = Math.max(reference, Math.abs(Number(candidate)))
  const slack = toleranceSlackUlps * Number.EPSILON * larger

  return gap <= rule.absolute + slack || gap <= rule.relative * reference + slack
}
