import type { BackendName } from '../gateway/upstream.js'

/**
 * A pair: one live request with the baseline's and the candidate's answers,
 * as the gateway captured them. This is what travels through the queue to
 * the diff workers; every field here is already redacted.
 */
export interface Pair {
  /** The live request's id. */
  id: string
  route: string
  /** Epoch milliseconds when the live request arrived. */
  capturedAt: number
  /** Which backend served the live response; the other one got the shadow request. */
  live: BackendName
  request: CapturedRequest
  baseline: CapturedResponse
  candidate: CapturedResponse
  /**
   * A second answer of the baseline to the same request, taken for a small
   * share of safe requests: fields that differ between two baseline answers
   * are noise.
   */
  baselineRepeat?: CapturedResponse
  /**
   * Status and body bytes of both answers were equal: the bodies were left
   * out (the baseline's is kept when a repeat needs it), and the worker
   * records the pair without decoding anything.
   */
  bodiesIdentical: boolean
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
  /** The body could not be redacted as configured and was not stored. */
  withheld?: boolean
}

export interface CapturedResponse {
  /** 0 when the backend gave no answer (see `failure`). */
  status: number
  /** Lower-case names; Set-Cookie and configured sensitive headers redacted. */
  headers: Record<string, string>
  /**
   * The body exactly as received, still compressed if it was. Absent when
   * the bodies were identical, when it was larger than the capture cap, or
   * when the backend failed.
   */
  body?: Buffer
  /** Size of the whole body as received. */
  bodyBytes: number
  /** SHA-256 (hex) of a body larger than the capture cap, so equal large bodies are still known equal. */
  bodyDigest?: string
  /** The body was larger than the capture cap and is not in the pair. */
  tooLarge?: boolean
  /** The body could not be redacted as configured (not JSON) and was not stored. */
  withheld?: boolean
  /** Milliseconds until the response head arrived. */
  latencyMs: number
  /** Why there is no answer: 'timeout', 'refused', 'reset', 'other'. */
  failure?: string
}
