import { comparePair } from './compare.js'
import type { ResponseSample } from './decode.js'
import { findLastKey, parseFieldPattern, renderPath } from './field-path.js'
import { defineEntry } from './json-value.js'
import type { CompiledRules } from './rules.js'
import { settleVerdict, type Difference, type DifferenceKind, type Verdict } from './verdict.js'

/*
 * Noise: fields in which the baseline disagrees with itself. Asking the
 * baseline the same request twice and comparing the two answers shows
 * which fields change on their own (timestamps, request ids, shuffled
 * recommendations); a difference there between baseline and candidate
 * says nothing about the candidate.
 *
 * Noise is kept per path and per class: a field whose value varies is
 * value noise, a field that is sometimes there and sometimes not is
 * presence noise. A timestamp that varies does not excuse a candidate that
 * drops the timestamp altogether.
 */

/** How a difference shows itself: by its value, or by being there at all. */
export type NoiseClass = 'value' | 'presence'

/** One path where two baseline answers to the same request differed. */
export interface NoiseCandidate {
  /** Collapsed path, as in Difference. */
  path: string
  noiseClass: NoiseClass
}

/**
 * What repeated baseline samples showed, per route. Plain data: it can be
 * stored as JSON, or as one counter per path and class.
 */
export interface NoiseModel {
  /** Pairs of baseline answers compared so far. */
  samples: number
  /** Per collapsed path, in how many samples it was noisy, per class. */
  paths: Record<string, NoiseCounts>
}

/** Samples in which a path was noisy, per class. */
export interface NoiseCounts {
  value: number
  presence: number
}

export interface NoiseThresholds {
  /** Samples needed before any path counts as noise. Default: 3. */
  minSamples: number
  /** Share of samples in which a path must have been noisy, 0 to 1. Default: 0.5. */
  minNoisyShare: number
  /** Noisy paths under this many parents with one key name suggest `**.<key>`. Default: 2. */
  minParentsForWildcard: number
}

/**
 * Three samples, so that one odd answer cannot make a field noise; half of
 * them rather than all, because a shuffled ranking or a cache that is
 * sometimes warm differs in most samples but not in every one.
 */
export const defaultNoiseThresholds: NoiseThresholds = Object.freeze({
  minSamples: 3,
  minNoisyShare: 0.5,
  minParentsForWildcard: 2
})

/**
 * Paths a model tracks at most; a path first seen after that is not
 * counted. The number is arbitrary: real bodies have far fewer noisy paths.
 */
export const maxNoisePaths = 1_000

/** An ignore rule a person could accept, with the noisy paths it covers. */
export interface SuggestedIgnoreRule {
  rule: 'ignorePaths' | 'ignoreHeaders'
  /** Field pattern, or header name. */
  pattern: string
  covers: string[]
}

const headerPrefix = '@headers.'

export function createNoiseModel (): NoiseModel {
  return { samples: 0, paths: {} }
}

/**
 * Compares two baseline answers to the same request. Returns undefined
 * when they cannot serve as a sample: one failed, or their statuses differ.
 */
export function findNoiseCandidates (
  first: ResponseSample, second: ResponseSample, rules: CompiledRules
): NoiseCandidate[] | undefined {
  const verdict = comparePair(first, second, rules)
  if (verdict.kind === 'not-comparable' || verdict.kind === 'status-mismatch') return undefined
  if (verdict.kind === 'identical') return []

  const unique = new Map<string, NoiseCandidate>()
  for (const { path, kind } of verdict.differences) {
    const noiseClass = classifyNoise(kind)
    unique.set(`${noiseClass} ${path}`, { path, noiseClass })
  }

  return [...unique.values()]
}

/** The model with one more sample counted; the model given is not changed. */
export function recordNoiseSample (
  model: NoiseModel, candidates: readonly NoiseCandidate[]
): NoiseModel {
  const paths = { ...model.paths }
  let tracked = Object.keys(paths).length
  for (const { path, noiseClass } of candidates) {
    const known = Object.hasOwn(paths, path) ? paths[path] : undefined
    if (known === undefined && tracked >= maxNoisePaths) continue
    if (known === undefined) tracked++

    const counts = { ...(known ?? { value: 0, presence: 0 }) }
    counts[noiseClass]++
    defineEntry(paths, path, counts)
  }

  return { samples: model.samples + 1, paths }
}

export function isNoise (
  model: NoiseModel, path: string, noiseClass: NoiseClass,
  thresholds: NoiseThresholds = defaultNoiseThresholds
): boolean {
  if (model.samples < thresholds.minSamples || !Object.hasOwn(model.paths, path)) return false

  const noisy = model.paths[path]?.[noiseClass] ?? 0

  return noisy / model.samples >= thresholds.minNoisyShare
}

/**
 * Moves the differences the model explains from divergences to noise. A
 * pair left with only noise and ignored differences is noise-only; a
 * status mismatch stays one.
 */
export function separateNoise (
  verdict: Verdict, model: NoiseModel, thresholds: NoiseThresholds = defaultNoiseThresholds
): Verdict {
  if (verdict.kind === 'identical' || verdict.kind === 'not-comparable') return verdict

  const explained = (difference: Difference): boolean =>
    isNoise(model, difference.path, classifyNoise(difference.kind), thresholds)
  const noise = [...verdict.noise, ...verdict.differences.filter(explained)]
  const differences = verdict.differences.filter((difference) => !explained(difference))
  if (verdict.kind === 'status-mismatch') return { ...verdict, differences, noise }

  return settleVerdict({ differences, ignored: verdict.ignored, noise, omitted: verdict.omitted })
}

/**
 * Ignore rules for the paths the model calls noise. A key that is noisy
 * under several parents becomes `**.<key>`; any other path is suggested as
 * it is; a header becomes an ignoreHeaders entry.
 */
export function suggestIgnoreRules (
  model: NoiseModel, thresholds: NoiseThresholds = defaultNoiseThresholds
): SuggestedIgnoreRule[] {
  const noisyPaths = Object.keys(model.paths).filter((path) =>
    isNoise(model, path, 'value', thresholds) || isNoise(model, path, 'presence', thresholds))
  const headers = noisyPaths.filter((path) => path.startsWith(headerPrefix))
  const fields = noisyPaths.filter((path) => !path.startsWith(headerPrefix))

  const suggestions = [
    ...headers.map(suggestHeaderRule),
    ...suggestFieldRules(fields, thresholds.minParentsForWildcard)
  ]

  return suggestions.sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0))
}

function suggestHeaderRule (path: string): SuggestedIgnoreRule {
  return { rule: 'ignoreHeaders', pattern: path.slice(headerPrefix.length), covers: [path] }
}

function suggestFieldRules (paths: readonly string[], minParents: number): SuggestedIgnoreRule[] {
  const byLastKey = new Map<string, string[]>()
  const suggestions: SuggestedIgnoreRule[] = []
  for (const path of paths) {
    const key = findLastKey(parseFieldPattern(path) ?? [])
    if (key === undefined) suggestions.push(suggestExactPath(path))
    else byLastKey.set(key, [...(byLastKey.get(key) ?? []), path])
  }

  for (const [key, covered] of byLastKey) {
    if (covered.length < minParents) {
      suggestions.push(...covered.map(suggestExactPath))
      continue
    }

    const pattern = writeAnyDepthPattern(key)
    suggestions.push({ rule: 'ignorePaths', pattern, covers: covered.sort() })
  }

  return suggestions
}

function suggestExactPath (path: string): SuggestedIgnoreRule {
  return { rule: 'ignorePaths', pattern: path, covers: [path] }
}

/** `**.timestamp`, or `**["@time"]` for a key that must be quoted. */
function writeAnyDepthPattern (key: string): string {
  const written = renderPath([key], true)

  return written.startsWith('[') ? `**${written}` : `**.${written}`
}

function classifyNoise (kind: DifferenceKind): NoiseClass {
  return kind === 'changed' || kind === 'type-changed' ? 'value' : 'presence'
}
