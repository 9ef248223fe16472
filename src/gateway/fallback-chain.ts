import { performance } from 'node:perf_hooks'
import { PassThrough, pipeline, Readable } from 'node:stream'
import { SR_ERR_FALLBACK_EMPTY, type ShadowrampError } from '../errors.js'
import type { StoredResponse } from './fallback-content.js'
import type { LiveRoute } from './live-route.js'
import type { BackendName, FailureKind, Upstream, UpstreamRequest, UpstreamResponse } from './upstream.js'

export type LiveAnswer =
  | { kind: 'upstream', servedBy: BackendName, response: UpstreamResponse }
  | { kind: 'stored', response: StoredResponse }
  | { kind: 'error', error: ShadowrampError }

export interface ChainObserver {
  /**
   * A backend was tried: it answered after `seconds` (with a status that
   * may count as failed), or failed without an answer (seconds undefined).
   */
  onAttempt: (backend: BackendName, failed: boolean, seconds: number | undefined) => void
  /** The chain moved past a backend that failed this way. */
  onFallback: (from: BackendName, reason: FailureKind) => void
}

type Attempt =
  | { ok: true, response: UpstreamResponse }
  | { ok: false, kind: FailureKind, error?: ShadowrampError, response?: UpstreamResponse }

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

export function isSafeMethod (method: string): boolean {
  return safeMethods.has(method)
}

/**
 * Serves one live request: the first backend, then down the chain
 * (candidate → baseline → fallback content) while a backend fails.
 *
 * An unsafe method moves on only when the failed backend never received
 * it (connection refused): after a timeout or a reset it may have acted on
 * the request, and sending it again could repeat a side effect.
 */
export async function runFallbackChain (route: LiveRoute, first: BackendName, request: UpstreamRequest, observer: ChainObserver): Promise<LiveAnswer> {
  const safe = isSafeMethod(request.method)
  const chain = first === 'candidate' ? route.fromCandidate : route.fromBaseline
  let failed: Attempt & { ok: false } = { ok: false, kind: 'other' }

  for (const upstream of chain) {
    // Moving on: the previous backend's failing answer will not be sent.
    releaseBody(failed.response)
    const attempt = await attemptUpstream(route, upstream, request, observer)
    if (attempt.ok) return { kind: 'upstream', servedBy: upstream.name, response: attempt.response }

    const mayMoveOn = safe || attempt.kind === 'refused'
    if (!mayMoveOn) return answerWithFailure(upstream.name, attempt)

    failed = attempt
    observer.onFallback(upstream.name, attempt.kind)
  }

  const stored = safe ? await findFallbackContent(route, request) : undefined
  if (stored !== undefined) {
    releaseBody(failed.response)
    return { kind: 'stored', response: stored }
  }

  return answerWithFailure(chain.at(-1)?.name ?? 'baseline', failed, route.name)
}

async function attemptUpstream (route: LiveRoute, upstream: Upstream, request: UpstreamRequest, observer: ChainObserver): Promise<Attempt> {
  const started = performance.now()
  let response: UpstreamResponse
  try {
    response = await upstream.request(request)
  } catch (error) {
    observer.onAttempt(upstream.name, true, undefined)
    return { ok: false, ...upstream.translateError(error) }
  }

  const seconds = (performance.now() - started) / 1_000
  const failing = response.statusCode >= 500 || route.failingStatuses.has(response.statusCode)
  if (failing || !buffersBody(route, upstream, request)) {
    observer.onAttempt(upstream.name, failing, seconds)
    return failing ? { ok: false, kind: 'status', response } : { ok: true, response }
  }

  const body = await bufferBody(response.body, route.config.bufferCandidateBytes)
  observer.onAttempt(upstream.name, body instanceof Error, seconds)
  if (body instanceof Error) return { ok: false, ...upstream.translateError(body) }

  return { ok: true, response: { ...response, body } }
}

/**
 * The candidate's answer to a safe request is read whole (up to a cap)
 * before anything is sent: a candidate that breaks off mid-body can then
 * still be replaced by the baseline, at the cost of the client waiting for
 * the last byte instead of the first.
 */
function buffersBody (route: LiveRoute, upstream: Upstream, request: UpstreamRequest): boolean {
  return upstream.name === 'candidate' && route.config.bufferCandidateBytes > 0 && isSafeMethod(request.method)
}

/**
 * Resolves with a stream of the whole body once it arrived, with a stream
 * of what arrived plus the rest when it outgrows the cap (too late to fall
 * back then), or with the error that cut it off.
 */
async function bufferBody (body: Readable, maxBytes: number): Promise<Readable | Error> {
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (result: Readable | Error): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size <= maxBytes) return

      body.pause()
      const rest = new PassThrough()
      for (const kept of chunks) rest.write(kept)
      settle(pipeline(body, rest, () => {}))
    }
    const onEnd = (): void => settle(Readable.from([Buffer.concat(chunks, size)], { objectMode: false }))
    const onError = (error: Error): void => settle(error)
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)
  })
}

/**
 * The last backend's own failing response is more useful to the client
 * than an error of ours; without one, the translated failure is sent.
 */
function answerWithFailure (backend: BackendName, attempt: Attempt & { ok: false }, routeWithoutContent?: string): LiveAnswer {
  if (attempt.response !== undefined) return { kind: 'upstream', servedBy: backend, response: attempt.response }
  if (attempt.error !== undefined) return { kind: 'error', error: attempt.error }

  return { kind: 'error', error: new SR_ERR_FALLBACK_EMPTY(routeWithoutContent ?? '') }
}

async function findFallbackContent (route: LiveRoute, request: UpstreamRequest): Promise<StoredResponse | undefined> {
  const remembered = route.lastGood?.get(lastGoodKey(request))
  if (remembered !== undefined) return remembered

  return await route.staticFallback?.get()
}

/** Last good responses are kept per method and path with query. */
export function lastGoodKey (request: { method: string, path: string }): string {
  return request.method === 'HEAD' ? `GET ${request.path}` : `${request.method} ${request.path}`
}

/** Lets go of a response body nobody will read, so its connection is reused. */
export function releaseBody (response: UpstreamResponse | undefined): void {
  const body = response?.body as (Readable & { dump?: () => Promise<void> }) | undefined
  if (body === undefined) return

  if (typeof body.dump === 'function') body.dump().catch(() => {})
  else body.destroy()
}
