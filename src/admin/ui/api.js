// The admin API as the pages call it: the token from sessionStorage as a
// bearer token, JSON both ways, and errors people can read.

/*
 * sessionStorage: the token is gone when the tab closes, is not shared
 * with other tabs, and never appears in a URL, where history, logs and
 * referrers would keep it.
 */
const tokenKey = 'shadowramp.token'

export function readToken () {
  return sessionStorage.getItem(tokenKey)
}

export function keepToken (token) {
  sessionStorage.setItem(tokenKey, token)
}

export function forgetToken () {
  sessionStorage.removeItem(tokenKey)
}

/** A refused or failed API call: the HTTP status (0 when nothing answered) and the API's code. */
export class ApiError extends Error {
  constructor (status, code, message, retryAfter) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
  }
}

/** Calls /api<path>; resolves with the parsed JSON, rejects with an ApiError. */
export async function callApi (method, path, { body, signal } = {}) {
  const token = readToken()
  if (token === null) throw new ApiError(401, 'SR_UI_NO_TOKEN', 'enter a token to see the routes')

  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const response = await send(`/api${path}`, { method, headers, body: payload, signal })
  const answer = await readAnswer(response)
  if (response.ok) return answer

  const message = answer?.error ?? `${response.status} ${response.statusText}`
  throw new ApiError(response.status, answer?.code ?? 'unknown', message, response.headers.get('retry-after'))
}

async function send (url, options) {
  try {
    return await fetch(url, { ...options, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' })
  } catch (error) {
    if (error.name === 'AbortError') throw error
    throw new ApiError(0, 'unreachable', 'the admin listener did not answer: is shadowramp still running?')
  }
}

async function readAnswer (response) {
  const text = await response.text()
  try {
    return text === '' ? undefined : JSON.parse(text)
  } catch {
    return { error: text.slice(0, 300) }
  }
}

/** One sentence for people: what went wrong and what to do about it. */
export function describeError (error) {
  if (!(error instanceof ApiError)) return `Something went wrong in the page: ${error.message}`

  switch (error.status) {
    case 0: return error.message
    case 401: return `The token was refused (401): ${error.message}. Enter a token from admin.tokens.`
    case 403: return `This token may only read (403): ${error.message}. Changes need an operator token.`
    case 404: return `Not found (404): ${error.message}.`
    case 409: return `The route refused the action (409): ${error.message}.`
    case 429: return `Too many changes with this token (429): try again in ${error.retryAfter ?? 'a few'} s.`
    case 503: return `The rollout state is unavailable (503): ${error.message}. It comes back with Redis.`
    default: return `The admin API answered ${error.status} (${error.code}): ${error.message}.`
  }
}
