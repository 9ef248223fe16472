import { randomUUID } from 'node:crypto'
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'

/** A JSON answer as the gateway would have captured it. */
export function jsonAnswer (body: unknown, status = 200, latencyMs = 5): CapturedResponse {
  const bytes = Buffer.from(JSON.stringify(body))
  return { status, headers: { 'content-type': 'application/json' }, body: bytes, bodyBytes: bytes.length, latencyMs }
}

/** A pair of a route, captured now unless told otherwise. */
export function makePair (route: string, baseline: CapturedResponse, candidate: CapturedResponse, extra: Partial<Pair> = {}): Pair {
  const bodiesIdentical = baseline.body !== undefined && candidate.body !== undefined && baseline.status === candidate.status && baseline.body.equals(candidate.body)
  return {
    id: randomUUID(),
    route,
    capturedAt: Date.now(),
    live: 'baseline',
    request: { method: 'GET', path: `/${route}`, query: '', headers: { accept: 'application/json' } },
    baseline: bodiesIdentical ? { ...baseline, body: undefined } : baseline,
    candidate: bodiesIdentical ? { ...candidate, body: undefined } : candidate,
    bodiesIdentical,
    ...extra
  }
}
