import { Agent, request, type Dispatcher } from 'undici'
import { SR_ERR_ADMIN_ANSWER, SR_ERR_ADMIN_UNREACHABLE } from '../errors.js'

/** Where the admin listener is by default: the `admin.listen` default. */
export const defaultAdminUrl = 'http://127.0.0.1:9090'

export interface AdminClientOptions {
  /** The admin listener's origin, optionally with a path prefix. */
  url: string
  /** A token from `admin.tokens`; without one the API answers 401. */
  token: string | undefined
  /** For connecting and for each answer; default 10 s. */
  timeoutMs?: number
}

/** What a person should do about an answer, after the API's own message. */
const hints: Record<number, string> = {
  401: '; set SHADOWRAMP_TOKEN to a token from admin.tokens',
  403: '; put an operator token in SHADOWRAMP_TOKEN',
  // What the API answers 503 for is Redis being away: say what still runs.
  503: '; the gateways go on serving with the percentages they know'
}

/**
 * The admin API over HTTP, for the CLI. Every failure becomes one coded
 * error with a sentence for people: unreachable, or what the API said.
 */
export class AdminClient {
  readonly #base: string
  readonly #token: string | undefined
  readonly #agent: Agent

  constructor (options: AdminClientOptions) {
    const timeoutMs = options.timeoutMs ?? 10_000
    this.#base = options.url.replace(/\/+$/, '')
    this.#token = options.token
    this.#agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  }

  async get<T> (path: string): Promise<T> {
    return await this.#send<T>('GET', path, undefined)
  }

  async post<T> (path: string, body: object): Promise<T> {
    return await this.#send<T>('POST', path, body)
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }

  async #send<T> (method: Dispatcher.HttpMethod, path: string, body: object | undefined): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token !== undefined && this.#token !== '') headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'

    const payload = body === undefined ? undefined : JSON.stringify(body)
    const response = await request(`${this.#base}${path}`, { method, headers, body: payload, dispatcher: this.#agent })
      .catch((error: unknown) => { throw new SR_ERR_ADMIN_UNREACHABLE(this.#base, describeFailure(error), { cause: error }) })
    const text = await response.body.text()
    if (response.statusCode >= 200 && response.statusCode < 300) return JSON.parse(text) as T

    throw answerError(response.statusCode, text)
  }
}

function answerError (status: number, text: string): Error {
  const body = parseErrorBody(text)
  const message = body?.error ?? `the admin API answered ${status}`

  return new SR_ERR_ADMIN_ANSWER(message, status, body?.code ?? 'no code', hints[status] ?? '')
}

function parseErrorBody (text: string): { error?: string, code?: string } | undefined {
  try {
    const parsed = JSON.parse(text) as unknown
    return typeof parsed === 'object' && parsed !== null ? parsed as { error?: string, code?: string } : undefined
  } catch {
    return undefined
  }
}

function describeFailure (error: unknown): string {
  const code = (error as { code?: string }).code
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'no such host',
    UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    UND_ERR_BODY_TIMEOUT: 'the answer stalled'
  }

  return (code === undefined ? undefined : known[code]) ?? (error as Error).message ?? String(error)
}
