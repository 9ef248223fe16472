import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import {
  SR_ERR_UPSTREAM_FAILED, SR_ERR_UPSTREAM_REFUSED, SR_ERR_UPSTREAM_RESET,
  SR_ERR_UPSTREAM_TIMEOUT, type ShadowrampError
} from '../errors.js'
import type { BackendConfig } from '../config/schema.js'

export type BackendName = 'baseline' | 'candidate'

/**
 * Why a backend did not answer. `refused` means the request never reached
 * it, so even an unsafe method may move on to the next backend.
 */
export type FailureKind = 'refused' | 'timeout' | 'reset' | 'status' | 'other'

export interface UpstreamRequest {
  method: string
  /** Path and query, origin-form, as the client sent it. */
  path: string
  headers: Record<string, string | string[]>
  body?: Buffer | undefined
}

/** A backend's answer: its head, and its body as a stream. */
export interface UpstreamResponse {
  statusCode: number
  headers: IncomingHttpHeaders
  body: Readable
}

/** A backend failure translated at the edge, with the original as `cause`. */
export interface UpstreamFailure {
  kind: FailureKind
  error: ShadowrampError
}

const neverReached = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
const timedOut = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
const cutOff = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/**
 * One backend: a keep-alive connection pool to its origin, the path prefix
 * its URL carries, and its timeouts. Only configured origins are ever
 * dialled: the request's own Host or absolute URI plays no part.
 */
export class Upstream {
  readonly name: BackendName
  readonly host: string
  readonly timeoutMs: number
  readonly #pool: Pool
  readonly #origin: string
  readonly #prefix: string

  constructor (name: BackendName, config: BackendConfig) {
    const url = new URL(config.url)
    this.name = name
    this.host = url.host
    this.timeoutMs = config.timeoutMs
    this.#origin = url.origin
    this.#prefix = url.pathname.replace(/\/+$/, '')
    this.#pool = new Pool(url.origin, {
      connections: config.connections,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      keepAliveTimeout: 4_000
    })
  }

  async request (request: UpstreamRequest): Promise<UpstreamResponse> {
    const headers = { ...request.headers, host: this.host }

    return await this.#pool.request({
      method: request.method as Dispatcher.HttpMethod,
      path: this.#prefix + request.path,
      headers,
      body: request.body
    })
  }

  /**
   * A Location (or Content-Location) from this backend, as the client
   * should see it: a URL of the backend itself becomes a path on the
   * gateway, without the backend's path prefix, so that its own address
   * never reaches clients, who would go around the gateway with it. Any
   * other value (another host, a relative reference) passes as it is.
   */
  clientLocation (value: string): string {
    let path: string
    if (value.startsWith('/') && !value.startsWith('//')) {
      path = value
    } else {
      const url = URL.canParse(value) ? new URL(value) : undefined
      if (url?.origin !== this.#origin) return value
      path = url.pathname + url.search + url.hash
    }

    return this.#withoutPrefix(path) ?? value
  }

  /**
   * An answer's headers with the URLs that name this backend made gateway
   * paths (clientLocation): Location and Content-Location hold one URL
   * each; Link any number, each between < and > (a paged answer links its
   * first, next and last pages). The same object when none of them is
   * there, a copy otherwise.
   */
  clientHeaders (headers: IncomingHttpHeaders): IncomingHttpHeaders {
    const { location, link } = headers
    const contentLocation = headers['content-location']
    if (location === undefined && contentLocation === undefined && link === undefined) return headers

    const rewritten: IncomingHttpHeaders = { ...headers }
    if (location !== undefined) rewritten.location = this.clientLocation(location)
    if (typeof contentLocation === 'string') rewritten['content-location'] = this.clientLocation(contentLocation)
    if (link !== undefined) rewritten.link = this.#clientLinks(link)
    return rewritten
  }

  #clientLinks (value: string | string[]): string | string[] {
    const rewrite = (links: string): string => links.replace(/<([^>]*)>/g, (_whole, target: string) => `<${this.clientLocation(target)}>`)

    return Array.isArray(value) ? value.map(rewrite) : rewrite(value)
  }

  /** A path under the backend's prefix, from the gateway's side; undefined when it lies outside it. */
  #withoutPrefix (path: string): string | undefined {
    if (this.#prefix === '') return path
    if (path === this.#prefix) return '/'
    const next = path[this.#prefix.length]
    if (!path.startsWith(this.#prefix) || (next !== '/' && next !== '?' && next !== '#')) return undefined

    const rest = path.slice(this.#prefix.length)
    return rest.startsWith('/') ? rest : `/${rest}`
  }

  translateError (error: unknown): UpstreamFailure {
    const code = errorCode(error)
    if (neverReached.has(code)) return { kind: 'refused', error: new SR_ERR_UPSTREAM_REFUSED(this.name, { cause: error }) }
    if (timedOut.has(code)) return { kind: 'timeout', error: new SR_ERR_UPSTREAM_TIMEOUT(this.name, this.timeoutMs, { cause: error }) }
    if (cutOff.has(code)) return { kind: 'reset', error: new SR_ERR_UPSTREAM_RESET(this.name, { cause: error }) }

    return { kind: 'other', error: new SR_ERR_UPSTREAM_FAILED(this.name, (error as Error).message, { cause: error }) }
  }

  async close (): Promise<void> {
    await this.#pool.destroy()
  }
}

function errorCode (error: unknown): string {
  const direct = (error as { code?: unknown })?.code
  if (typeof direct === 'string') return direct

  const cause = (error as { cause?: { code?: unknown } })?.cause?.code
  return typeof cause === 'string' ? cause : ''
}

export type { IncomingHttpHeaders }
