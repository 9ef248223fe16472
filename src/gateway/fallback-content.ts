import { readFileSync } from 'node:fs'
import { request } from 'undici'
import type { FallbackConfig } from '../config/schema.js'

/** A response kept to answer with when both backends fail. */
export interface StoredResponse {
  status: number
  contentType: string | undefined
  contentEncoding: string | undefined
  body: Buffer
  storedAt: number
  source: 'last-good' | 'static'
}

/** How long a copy fetched from a static URL is reused before it is fetched again. */
const staticUrlReuseMs = 60_000

/**
 * The last good response per path, least recently used forgotten first.
 * A copy is refreshed at most every `refreshMs`, so most live responses are
 * streamed without being copied.
 */
export class LastGoodCache {
  readonly maxBodyBytes: number
  readonly #maxEntries: number
  readonly #refreshMs: number
  readonly #entries = new Map<string, StoredResponse>()
  readonly #pending = new Map<string, number>()

  constructor (options: { maxEntries: number, maxBodyBytes: number, refreshMs: number }) {
    this.#maxEntries = options.maxEntries
    this.maxBodyBytes = options.maxBodyBytes
    this.#refreshMs = options.refreshMs
  }

  get size (): number {
    return this.#entries.size
  }

  /** True when this path has no fresh copy and nobody is taking one already. */
  wantsCopy (key: string, now = Date.now()): boolean {
    const stored = this.#entries.get(key)?.storedAt ?? -Infinity
    const pending = this.#pending.get(key) ?? -Infinity
    if (now - Math.max(stored, pending) < this.#refreshMs) return false

    this.#pending.set(key, now)
    if (this.#pending.size > this.#maxEntries) this.#pending.delete(firstKey(this.#pending))
    return true
  }

  store (key: string, response: Omit<StoredResponse, 'source'>): void {
    this.#pending.delete(key)
    this.#entries.delete(key)
    this.#entries.set(key, { ...response, source: 'last-good' })
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(firstKey(this.#entries))
  }

  /** Gives up a copy that could not be completed (too large, cut off). */
  abandon (key: string): void {
    this.#pending.delete(key)
  }

  get (key: string): StoredResponse | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined

    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry
  }
}

/** A route's last-resort content: a file read at start-up or a URL (a CDN copy). */
export class StaticFallback {
  readonly #config: NonNullable<FallbackConfig['static']>
  readonly #file: StoredResponse | undefined
  #fetched: StoredResponse | undefined

  constructor (config: NonNullable<FallbackConfig['static']>) {
    this.#config = config
    this.#file = config.file === undefined ? undefined : this.#fromBody(readFileSync(config.file))
  }

  async get (now = Date.now()): Promise<StoredResponse | undefined> {
    if (this.#file !== undefined) return this.#file
    if (this.#fetched !== undefined && now - this.#fetched.storedAt < staticUrlReuseMs) return this.#fetched

    try {
      this.#fetched = await this.#fetch()
    } catch {
      // An unreachable CDN leaves the previous copy, however old, in place.
    }
    return this.#fetched
  }

  async #fetch (): Promise<StoredResponse | undefined> {
    const { url, timeoutMs } = this.#config
    const response = await request(url as string, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    const body = Buffer.from(await response.body.arrayBuffer())
    if (response.statusCode < 200 || response.statusCode > 299) return this.#fetched

    return this.#fromBody(body)
  }

  #fromBody (body: Buffer): StoredResponse {
    return { status: this.#config.status, contentType: this.#config.contentType, contentEncoding: undefined, body, storedAt: Date.now(), source: 'static' }
  }
}

function firstKey (map: Map<string, unknown>): string {
  return map.keys().next().value as string
}
