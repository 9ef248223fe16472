import { SR_ERR_CONFIG_INVALID } from '../errors.js'
import {
  fieldPathExpectation, matchesPattern, parseFieldPattern, type PathStep, type PatternStep
} from './field-path.js'

/**
 * A route's normalization rules, as its `compare:` section gives them once
 * validated (see src/config/compare-schema.ts, which holds the defaults).
 * Paths and patterns use the syntax of field-path.ts.
 */
export interface CompareRules {
  /**
   * Field patterns whose differences are expected, with everything below
   * them: `data.items[*].traceId`, `**.timestamp`. They are reported as
   * ignored, never dropped. Default: none.
   */
  ignorePaths: string[]
  /**
   * Header names compared by value (any case), or `*` for every header
   * either side sent except transport ones (Content-Length, Content-Encoding,
   * Transfer-Encoding, Connection, …). Default: none. Status codes are
   * always compared.
   */
  compareHeaders: string[]
  /**
   * Header names whose differences are expected: still compared, but
   * reported as ignored, also under `*`. Default: none.
   */
  ignoreHeaders: string[]
  /**
   * Arrays compared as multisets instead of position by position. With a
   * `key`, elements are matched by that field; without one, by equal
   * content. Default: none, order matters.
   */
  unorderedArrays: UnorderedArrayRule[]
  /** Numbers allowed to differ a little, per field pattern. Default: none. */
  numericTolerance: NumericToleranceRule[]
  /**
   * Treat a key whose value is null as equal to the key being absent.
   * Default: false. Empty strings, arrays and objects are never equal to
   * null or to absent.
   */
  nullEqualsMissing: boolean
  /** Largest body after undoing its content-encoding, in bytes. Default: 8 MiB. */
  maxDecodedBytes: number
  /** Deepest nesting of arrays and objects accepted in a body. Default: 256. */
  maxDepth: number
  /**
   * Distinct differences (path and kind) listed per verdict and per list;
   * the rest are only counted. Default: 100.
   */
  maxDifferences: number
}

export interface UnorderedArrayRule {
  /** Pattern of the array: `items`, `data.sections[*].tags`, '' for the whole body. */
  path: string
  /** Field that identifies an element, e.g. `id`. */
  key?: string | undefined
}

/**
 * A number within either bound of the baseline's value counts as equal.
 * The boundary itself is within.
 */
export interface NumericToleranceRule {
  path: string
  /** Largest absolute difference, in the field's own unit. */
  absolute?: number | undefined
  /** Largest difference as a share of the baseline's value: 0.01 is 1%. */
  relative?: number | undefined
}

/** A field pattern read once, kept with its text for reports. */
export interface FieldMatcher {
  pattern: string
  steps: readonly PatternStep[]
}

/** An unordered array rule, read; `key` undefined matches elements by content. */
export interface UnorderedMatcher extends FieldMatcher {
  key: string | undefined
}

/** A tolerance rule, read; an absent bound is 0. */
export interface ToleranceMatcher extends FieldMatcher {
  absolute: number
  relative: number
}

/** Rules prepared once per rule set, so comparing a pair parses no pattern. */
export interface CompiledRules {
  readonly ignorePaths: readonly FieldMatcher[]
  readonly unorderedArrays: readonly UnorderedMatcher[]
  readonly numericTolerance: readonly ToleranceMatcher[]
  /** Lower-case names, or 'all' for `*`. */
  readonly comparedHeaders: ReadonlySet<string> | 'all'
  readonly ignoredHeaders: ReadonlySet<string>
  readonly nullEqualsMissing: boolean
  readonly maxDecodedBytes: number
  readonly maxDepth: number
  readonly maxDifferences: number
}

/**
 * Reads every pattern once. Throws SR_ERR_CONFIG_INVALID listing every
 * pattern that is not one; the configuration schema rejects those first,
 * so this only fires for rules built in code.
 */
export function compileRules (rules: CompareRules): CompiledRules {
  const problems: string[] = []
  const compiled: CompiledRules = {
    ignorePaths: compileIgnorePaths(rules.ignorePaths, problems),
    unorderedArrays: compileUnordered(rules.unorderedArrays, problems),
    numericTolerance: compileTolerance(rules.numericTolerance, problems),
    comparedHeaders: compileComparedHeaders(rules.compareHeaders),
    ignoredHeaders: collectLowerCase(rules.ignoreHeaders),
    nullEqualsMissing: rules.nullEqualsMissing,
    maxDecodedBytes: rules.maxDecodedBytes,
    maxDepth: rules.maxDepth,
    maxDifferences: rules.maxDifferences
  }
  if (problems.length > 0) throw new SR_ERR_CONFIG_INVALID(problems.join('\n'))

  return Object.freeze(compiled)
}

type Path = readonly PathStep[]

/** The first ignorePaths pattern covering the path or one of its parents. */
export function findIgnoringPattern (rules: CompiledRules, path: Path): string | undefined {
  return findMatch(rules.ignorePaths, path)?.pattern
}

export function findUnorderedRule (rules: CompiledRules, path: Path): UnorderedMatcher | undefined {
  return findMatch(rules.unorderedArrays, path)
}

export function findToleranceRule (rules: CompiledRules, path: Path): ToleranceMatcher | undefined {
  return findMatch(rules.numericTolerance, path)
}

function findMatch<T extends FieldMatcher> (matchers: readonly T[], path: Path): T | undefined {
  for (const matcher of matchers) {
    if (matchesPattern(matcher.steps, path)) return matcher
  }

  return undefined
}

/** An ignored field takes everything below it along: `a` also covers `a.b[*].c`. */
function compileIgnorePaths (patterns: readonly string[], problems: string[]): FieldMatcher[] {
  return patterns.map((pattern, index) => {
    const matcher = readMatcher(pattern, `ignorePaths[${index}]`, problems)
    return { pattern, steps: [...matcher.steps, { kind: 'any-depth' }] }
  })
}

function compileUnordered (rules: UnorderedArrayRule[], problems: string[]): UnorderedMatcher[] {
  return rules.map((rule, index) => ({
    ...readMatcher(rule.path, `unorderedArrays[${index}]`, problems),
    key: rule.key
  }))
}

function compileTolerance (rules: NumericToleranceRule[], problems: string[]): ToleranceMatcher[] {
  return rules.map((rule, index) => ({
    ...readMatcher(rule.path, `numericTolerance[${index}]`, problems),
    absolute: rule.absolute ?? 0,
    relative: rule.relative ?? 0
  }))
}

function readMatcher (pattern: string, option: string, problems: string[]): FieldMatcher {
  const steps = parseFieldPattern(pattern)
  if (steps === undefined) {
    const found = JSON.stringify(pattern)
    problems.push(`compare.${option}: expected ${fieldPathExpectation}, found ${found}`)
  }

  return { pattern, steps: steps ?? [] }
}

function compileComparedHeaders (names: string[]): ReadonlySet<string> | 'all' {
  return names.includes('*') ? 'all' : collectLowerCase(names)
}

function collectLowerCase (names: readonly string[]): Set<string> {
  return new Set(names.map((name) => name.toLowerCase()))
}
