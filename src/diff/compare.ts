import {
  decodeContent, findNoAnswer, parseBody, readContentType, readHeader,
  type DecodedBody, type NotComparable, type ResponseSample
} from './decode.js'
import { FindingsCollector, type Example, type Ignoring } from './findings-collector.js'
import { diffJson } from './json-diff.js'
import { reportValue, type ReportedValue } from './json-value.js'
import { findIgnoringPattern, type CompiledRules } from './rules.js'
import { settleVerdict, type Findings, type Verdict } from './verdict.js'

/**
 * Headers about the connection or the body's transfer, which differ for
 * reasons unrelated to the answer (one backend compresses, the other does
 * not). A `*` in compareHeaders leaves them out; naming one compares it.
 */
const transportHeaders = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'content-length', 'content-encoding'
])

type Headers = Record<string, string>

/**
 * Compares the baseline's and the candidate's answers to one request under
 * a route's rules: whether both answered, then headers, body and status.
 * Pure: no clock, no I/O, and nothing in the pair makes it throw.
 */
export function comparePair (
  baseline: ResponseSample, candidate: ResponseSample, rules: CompiledRules
): Verdict {
  // Only a backend that gave no answer stops the comparison here: a body
  // too large to keep still leaves the statuses to compare, and 200 against
  // a large 404 page is a divergence.
  const missing = findNoAnswer(baseline, 'baseline') ?? findNoAnswer(candidate, 'candidate')
  if (missing !== undefined) return { kind: 'not-comparable', reason: missing }

  const collector = new FindingsCollector(rules.maxDifferences)
  compareHeaders(baseline.headers, candidate.headers, rules, collector)
  const bodyProblem = compareBodies(baseline, candidate, rules, collector)
  if (baseline.status !== candidate.status) {
    return describeStatusMismatch(baseline, candidate, collector.findings(), bodyProblem)
  }
  if (bodyProblem !== undefined) return { kind: 'not-comparable', reason: bodyProblem }

  return settleVerdict(collector.findings())
}

/**
 * Compares two answers whose bodies the gateway found byte for byte equal
 * and left out of the pair: only the headers the rules name and the
 * statuses can still differ.
 */
export function compareWithEqualBodies (
  baseline: ResponseSample, candidate: ResponseSample, rules: CompiledRules
): Verdict {
  const collector = new FindingsCollector(rules.maxDifferences)
  compareHeaders(baseline.headers, candidate.headers, rules, collector)
  if (baseline.status !== candidate.status) {
    return describeStatusMismatch(baseline, candidate, collector.findings(), undefined)
  }

  return settleVerdict(collector.findings())
}

/**
 * Decodes both bodies and records how they differ, or says why they cannot
 * be compared. Decoded bytes that are equal, with equal content types, are
 * equal bodies whatever they hold, so the common case parses nothing.
 */
function compareBodies (
  baseline: ResponseSample, candidate: ResponseSample, rules: CompiledRules,
  collector: FindingsCollector
): NotComparable | undefined {
  const baselineBytes = decodeContent(baseline, 'baseline', rules)
  if (!baselineBytes.ok) return baselineBytes.reason
  const candidateBytes = decodeContent(candidate, 'candidate', rules)
  if (!candidateBytes.ok) return candidateBytes.reason

  const baselineType = readContentType(baseline.headers)
  const candidateType = readContentType(candidate.headers)
  const sameBytes = baselineBytes.value.equals(candidateBytes.value)
  if (sameBytes && baselineType === candidateType) return undefined

  const baselineBody = parseBody(baselineBytes.value, baselineType, 'baseline', rules)
  if (!baselineBody.ok) return baselineBody.reason
  const candidateBody = parseBody(candidateBytes.value, candidateType, 'candidate', rules)
  if (!candidateBody.ok) return candidateBody.reason

  diffBodies(baselineBody.value, candidateBody.value, rules, collector)

  return undefined
}

function diffBodies (
  baseline: DecodedBody, candidate: DecodedBody, rules: CompiledRules, collector: FindingsCollector
): void {
  if (baseline.kind === 'json' && candidate.kind === 'json') {
    const exactIntegers = baseline.exactIntegers || candidate.exactIntegers
    diffJson(baseline.value, candidate.value, rules, collector, exactIntegers)
    return
  }
  if (haveSameBytes(baseline, candidate)) return

  const pattern = findIgnoringPattern(rules, [])
  const ignoring: Ignoring | undefined =
    pattern === undefined ? undefined : { rule: 'ignorePaths', pattern }
  const kind = baseline.kind === candidate.kind ? 'changed' : 'type-changed'
  const describe = (): Example =>
    ({ at: '', baseline: reportBody(baseline), candidate: reportBody(candidate) })
  collector.add('', kind, describe, ignoring)
}

function haveSameBytes (baseline: DecodedBody, candidate: DecodedBody): boolean {
  if (baseline.kind !== 'bytes' || candidate.kind !== 'bytes') return false

  return baseline.sha256 === candidate.sha256 && baseline.contentType === candidate.contentType
}

/** A body that is not JSON is shown by what identifies it, not by its bytes. */
function reportBody (body: DecodedBody): ReportedValue {
  if (body.kind === 'json') return reportValue(body.value, body.exactIntegers)

  return { contentType: body.contentType, sha256: body.sha256, bytes: body.bytes }
}

function compareHeaders (
  baseline: Headers, candidate: Headers, rules: CompiledRules, collector: FindingsCollector
): void {
  for (const name of listComparedHeaders(baseline, candidate, rules)) {
    const inBaseline = readHeader(baseline, name)?.trim()
    const inCandidate = readHeader(candidate, name)?.trim()
    if (inBaseline === inCandidate) continue

    const path = `@headers.${name}`
    const kind = inBaseline === undefined
      ? 'only-in-candidate'
      : inCandidate === undefined ? 'only-in-baseline' : 'changed'
    const ignoring: Ignoring | undefined =
      rules.ignoredHeaders.has(name) ? { rule: 'ignoreHeaders', pattern: name } : undefined
    const describe = (): Example => ({ at: path, baseline: inBaseline, candidate: inCandidate })
    collector.add(path, kind, describe, ignoring)
  }
}

function listComparedHeaders (
  baseline: Headers, candidate: Headers, rules: CompiledRules
): Iterable<string> {
  if (rules.comparedHeaders !== 'all') return rules.comparedHeaders

  const names = [...Object.keys(baseline), ...Object.keys(candidate)]
    .map((name) => name.toLowerCase())

  return [...new Set(names)].filter((name) => !transportHeaders.has(name))
}

/**
 * Different statuses are a divergence even over equal bodies. The body's
 * differences come along as context, or why the bodies could not be
 * compared (an error page against JSON, typically).
 */
function describeStatusMismatch (
  baseline: ResponseSample, candidate: ResponseSample, findings: Findings,
  bodyProblem: NotComparable | undefined
): Verdict {
  const statuses = { baselineStatus: baseline.status, candidateStatus: candidate.status }
  const verdict: Verdict = { kind: 'status-mismatch', ...statuses, ...findings }
  if (bodyProblem !== undefined) verdict.bodyNotComparable = bodyProblem

  return verdict
}
