import type { BackendName } from '../gateway/upstream.js'

/**
 * A pair: one live request with the baseline's and the candidate's answers,
 * as the gateway captured them. This is what travels through the queue to
 * the diff workers; every field here is already redacted.
 */
export interface Pair {
  /** The live request's id; the queue's job id is derived from it. */
  id: string
  route: string
  /** Epoch milliseconds when the live request arrived. */
  capturedAt: number
  /** Which backend served the live response; the other one got the shadow request. */
  live: BackendName
  request: CapturedRequest
  baseline: CapturedResponse
  candidate: CapturedResponse
}

export interface CapturedRequest {
  method: string
  /** Path without the query string. */
  path: string
  /** The raw query string without the leading `?`, or '' when there is none. */
  query: string
  /** Selected request headers, lower-case names, sensitive ones redacted. */
  headers: Record<string, string>
  /** Present only when an unsafe method was mirrored. */
  body?: Buffer
}

export interface CapturedResponse {
  /** 0 when the backend gave no answer (see `failure`). */
  status: number
  /** Lower-case names; Set-Cookie and configured sensitive headers redacted. */
  headers: Record<string, string>
  /**
   * The body exactly as received, still compressed if it was. Absent when
   * the pair was recorded as byte-identical (see `bodySha256`) or when the
   * backend failed.
   */
  body?: Buffer
  /** SHA-256 of the body as received, hex. */
  bodySha256: string
  /** Size of the whole body as received, even when the pair is too large to keep. */
  bodyBytes: number
  /** Milliseconds until the response head arrived. */
  latencyMs: number
  /** Why there is no answer: 'timeout', 'refused', 'reset', 'other'. */
  failure?: string
}

/**
 * Both bodies were byte-identical (same hash, same status): the gateway
 * ships only their hash, and the worker records the pair as identical
 * without decoding anything.
 */
export function isByteIdentical (pair: Pair): boolean {
  return pair.baseline.failure === undefined &&
    pair.candidate.failure === undefined &&
    pair.baseline.status === pair.candidate.status &&
    pair.baseline.bodySha256 === pair.candidate.bodySha256
}
