import { isUtf8 } from 'node:buffer'
import { compareWithEqualBodies, comparePair } from '../diff/compare.js'
import { decodeContent, type NotComparable, type ResponseSample } from '../diff/decode.js'
import { findNoiseCandidates, separateNoise, type NoiseCandidate, type NoiseModel } from '../diff/noise.js'
import type { CompiledRules } from '../diff/rules.js'
import type { Difference, Verdict } from '../diff/verdict.js'
import type { CapturedResponse, Pair } from '../shadow/pair.js'
import type { PairRecord } from '../store/diff-aggregates.js'

/** What a route's pairs are judged by: its rules and the noise learned so far. */
export interface RouteJudgement {
  rules: CompiledRules
  noise: NoiseModel
}

export interface JudgedPair {
  verdict: Verdict
  record: PairRecord
  /** Paths where the baseline disagreed with itself, when the pair carried a repeat. */
  noiseSample?: NoiseCandidate[]
}

/** Body text kept in an example, per side. Bounds what one example costs Redis. */
const exampleBodyChars = 64 * 1024
/** A difference's value kept in an example, in characters of JSON. */
const exampleValueChars = 2 * 1024

const reasonPhrases: Record<string, string> = {
  'too-large': 'body too large to compare',
  'bad-encoding': 'body could not be decoded',
  'unsupported-encoding': 'body has an unsupported content-encoding',
  'empty-body': 'body is empty',
  'not-utf8': 'body is not valid UTF-8',
  'not-json': 'body is not JSON',
  'too-deep': 'body is nested too deep'
}

/**
 * Judges one pair under its route's rules and noise: the verdict, what it
 * adds to the route's figures, and the noise sample it carried. Pure.
 */
export function judgePair (pair: Pair, judgement: RouteJudgement): JudgedPair {
  const baseline = toSample(pair.baseline)
  const candidate = toSample(pair.candidate)
  const compared = pair.bodiesIdentical
    ? compareWithEqualBodies(baseline, candidate, judgement.rules)
    : comparePair(baseline, candidate, judgement.rules)
  const verdict = separateNoise(compared, judgement.noise)
  const noiseSample = pair.baselineRepeat === undefined
    ? undefined
    : findNoiseCandidates(baseline, toSample(pair.baselineRepeat), judgement.rules)

  const record = recordOf(pair, verdict, noiseSample)

  return noiseSample === undefined ? { verdict, record } : { verdict, record, noiseSample }
}

/** A body the gateway withheld or could not keep is no answer to compare. */
function toSample (response: CapturedResponse): ResponseSample {
  const sample: ResponseSample = { status: response.status, headers: response.headers, bodyBytes: response.bodyBytes }
  if (response.body !== undefined) sample.body = response.body
  if (response.failure !== undefined) sample.failure = response.failure
  else if (response.withheld === true) sample.failure = 'body withheld: it could not be redacted'

  return sample
}

function recordOf (pair: Pair, verdict: Verdict, noiseSample: NoiseCandidate[] | undefined): PairRecord {
  const record: PairRecord = {
    capturedAt: pair.capturedAt,
    verdict: verdict.kind,
    differences: [],
    ignored: [],
    noise: [],
    baselineLatencyMs: pair.baseline.latencyMs,
    candidateLatencyMs: pair.candidate.latencyMs
  }
  if (noiseSample !== undefined) record.noiseSample = noiseSample
  if (verdict.kind === 'identical') return record
  if (verdict.kind === 'not-comparable') return { ...record, notComparable: describeReason(verdict.reason) }

  record.differences = verdict.differences.map(({ path, kind }) => ({ path, kind }))
  record.ignored = unique(verdict.ignored.map(({ path }) => path))
  record.noise = unique(verdict.noise.map(({ path }) => path))
  if (verdict.kind === 'status-mismatch') {
    record.statuses = { baseline: verdict.baselineStatus, candidate: verdict.candidateStatus }
  }

  return record
}

/** A reason's wording stays the same from pair to pair, so reasons add up. */
export function describeReason (reason: NotComparable): string {
  if (reason.code === 'no-answer') return reason.message

  return `${reason.side} ${reasonPhrases[reason.code] ?? reason.code}`
}

/** The pair as people read it: request, both answers decoded, and what differs. */
export function describeExample (pair: Pair, verdict: Verdict, rules: CompiledRules): string {
  const differences = 'differences' in verdict ? verdict.differences.map(trimDifference) : []

  return JSON.stringify({
    id: pair.id,
    capturedAt: pair.capturedAt,
    live: pair.live,
    request: { method: pair.request.method, path: pair.request.path, query: pair.request.query, headers: pair.request.headers },
    baseline: describeAnswer(pair.baseline, rules),
    candidate: describeAnswer(pair.candidate, rules),
    verdict: verdict.kind,
    differences
  })
}

function describeAnswer (response: CapturedResponse, rules: CompiledRules): Record<string, unknown> {
  const answer: Record<string, unknown> = { status: response.status, headers: response.headers, latencyMs: Math.round(response.latencyMs * 10) / 10 }
  if (response.failure !== undefined) return { ...answer, failure: response.failure }
  if (response.body === undefined) return { ...answer, body: null, bodyBytes: response.bodyBytes, notKept: whyNotKept(response) }

  const decoded = decodeContent(toSample(response), 'baseline', rules)
  if (decoded.ok && !isUtf8(decoded.value)) {
    // Bytes that are not text would come out of a UTF-8 string garbled:
    // base64 keeps them as they were.
    const text = decoded.value.toString('base64')
    return { ...answer, body: text.slice(0, exampleBodyChars), bodyEncoding: 'base64', truncated: text.length > exampleBodyChars }
  }
  const text = decoded.ok ? decoded.value.toString('utf8') : `(${decoded.reason.message})`
  return { ...answer, body: text.slice(0, exampleBodyChars), truncated: text.length > exampleBodyChars }
}

/** Why an answer's body is not in its pair, as the example says it. */
function whyNotKept (response: CapturedResponse): string | undefined {
  if (response.tooLarge === true) return 'larger than shadow.maxBodyBytes'
  if (response.withheld === true) return 'withheld: it could not be read as JSON to redact its fields'
  return response.bodyBytes === 0 ? 'empty' : undefined
}

function trimDifference (difference: Difference): Record<string, unknown> {
  const trimmed: Record<string, unknown> = { path: difference.path, kind: difference.kind, at: difference.at, count: difference.count }
  if ('baseline' in difference) trimmed.baseline = trimValue(difference.baseline)
  if ('candidate' in difference) trimmed.candidate = trimValue(difference.candidate)

  return trimmed
}

function trimValue (value: unknown): unknown {
  const text = JSON.stringify(value) ?? 'null'
  return text.length <= exampleValueChars ? value : `${text.slice(0, exampleValueChars)}… (${text.length} characters)`
}

function unique (values: string[]): string[] {
  return [...new Set(values)]
}
