import type { IncomingHttpHeaders } from 'node:http'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'

export const redacted = '[redacted]'

/** Never stored in a pair, whatever the configuration says. */
const alwaysRedacted = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie']

/**
 * Query parameters never stored with their value: the names credentials
 * usually travel under in a URL. Configured `redactFields` are added.
 */
const alwaysRedactedParameters = ['access_token', 'api_key', 'apikey', 'client_secret', 'password', 'secret', 'signature', 'token']

/** Request headers kept with every pair: they explain how the answer was negotiated. */
const alwaysCaptured = ['accept', 'accept-encoding', 'accept-language', 'content-type', 'user-agent']

export interface Redactor {
  requestHeaders: (headers: IncomingHttpHeaders | Record<string, string | string[]>) => Record<string, string>
  responseHeaders: (headers: IncomingHttpHeaders) => Record<string, string>
  /** The raw query string with sensitive parameters' values replaced. */
  query: (query: string) => string
  /** Replaces configured JSON fields; undefined means the body needs no change. */
  body: (body: Buffer, headers: Record<string, string>) => RedactedBody | undefined
}

/**
 * Builds the redaction a route's pairs go through before they are stored
 * anywhere: sensitive headers always, configured headers and JSON fields
 * on request.
 */
export function createRedactor (options: { captureHeaders: string[], redactHeaders: string[], redactFields: string[], stickyHeader: string | undefined }): Redactor {
  const hidden = new Set([...alwaysRedacted, ...options.redactHeaders])
  const captured = new Set([...alwaysCaptured, ...options.captureHeaders])
  if (options.stickyHeader !== undefined) captured.add(options.stickyHeader)
  const fields = new Set(options.redactFields)
  const parameters = new Set([...alwaysRedactedParameters, ...options.redactFields.map((field) => field.toLowerCase())])

  return {
    requestHeaders: (headers) => copyHeaders(headers, hidden, captured),
    responseHeaders: (headers) => copyHeaders(headers, hidden, undefined),
    query: (query) => query === '' ? query : redactQuery(query, parameters),
    body: (body, headers) => fields.size === 0 ? undefined : redactJsonFields(body, headers, fields)
  }
}

function copyHeaders (headers: IncomingHttpHeaders | Record<string, string | string[]>, hidden: ReadonlySet<string>, only: ReadonlySet<string> | undefined): Record<string, string> {
  const copy: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || (only !== undefined && !only.has(name) && !hidden.has(name))) continue
    copy[name] = hidden.has(name) ? redacted : Array.isArray(value) ? value.join(', ') : value
  }

  return copy
}

/**
 * Each `name=value` whose name (decoded, any case) is sensitive keeps its
 * name and loses its value; everything else stays byte for byte.
 */
function redactQuery (query: string, sensitive: ReadonlySet<string>): string {
  return query.split('&').map((part) => {
    const equals = part.indexOf('=')
    const name = equals === -1 ? part : part.slice(0, equals)
    return sensitive.has(decodeName(name).toLowerCase()) ? `${name}=${redacted}` : part
  }).join('&')
}

function decodeName (name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '))
  } catch {
    return name
  }
}

/** Decoded bodies larger than this are withheld rather than redacted. */
const maxDecodedBytes = 16 * 1024 * 1024

export interface RedactedBody {
  /** Absent when the body could not be redacted and is withheld. */
  body?: Buffer
  headers: Record<string, string>
}

/**
 * Rewrites a JSON body with the named fields' values replaced, at any
 * depth. A compressed body is decoded first and stored decoded. A body
 * that cannot be read as JSON is withheld: with fields to hide configured,
 * storing it unread could leak them.
 */
function redactJsonFields (body: Buffer, headers: Record<string, string>, fields: ReadonlySet<string>): RedactedBody {
  const encoding = headers['content-encoding']?.trim().toLowerCase()
  const { 'content-encoding': _dropped, ...decodedHeaders } = headers
  try {
    const text = decodeBody(body, encoding).toString('utf8')
    const value: unknown = JSON.parse(text, (key, field: unknown) => fields.has(key) ? redacted : field)
    return { body: Buffer.from(JSON.stringify(value)), headers: encoding === undefined ? headers : decodedHeaders }
  } catch {
    return { headers }
  }
}

function decodeBody (body: Buffer, encoding: string | undefined): Buffer {
  const limits = { maxOutputLength: maxDecodedBytes }
  if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(body, limits)
  if (encoding === 'deflate') return inflateSync(body, limits)
  if (encoding === 'br') return brotliDecompressSync(body, limits)
  if (encoding === undefined || encoding === 'identity') return body

  throw new Error(`unknown content-encoding ${encoding}`)
}
