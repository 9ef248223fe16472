import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import { parseExactJson } from './exact-json.js'
import type { JsonObject, JsonValue } from './json-value.js'

/*
 * From a backend's answer as captured to a value the diff can compare:
 * undo the content-encoding, then read JSON, or fall back to comparing the
 * bytes. Every way this can fail is a NotComparable with a readable reason;
 * nothing here throws.
 */

/** Which backend's answer a reason is about. */
export type Side = 'baseline' | 'candidate'

/**
 * The parts of a captured response that decoding reads. The gateway's
 * CapturedResponse has this shape.
 */
export interface ResponseSample {
  /** 0 when the backend gave no answer. */
  status: number
  /** Lower-case names. */
  headers: Record<string, string>
  /** The body as received, still compressed if it was. */
  body?: Buffer | undefined
  /** Size of the body as received, also when it was too large to keep. */
  bodyBytes?: number | undefined
  /** Why there is no answer ('timeout', 'refused', …). */
  failure?: string | undefined
}

export interface DecodeLimits {
  /** Largest body after undoing its content-encoding, in bytes. */
  maxDecodedBytes: number
  /** Deepest nesting of arrays and objects accepted. */
  maxDepth: number
}

export type DecodedBody = JsonBody | BytesBody

export interface JsonBody {
  kind: 'json'
  value: JsonValue
  /** The value holds integers beyond ±2^53 as `bigint`. */
  exactIntegers: boolean
}

/** A body that is not JSON compares by its hash and its content type. */
export interface BytesBody {
  kind: 'bytes'
  /** Media type and parameters, lower-case, without spaces; '' when absent. */
  contentType: string
  /** SHA-256 of the decoded bytes, hex. */
  sha256: string
  bytes: number
}

export type NotComparableCode =
  | 'no-answer' | 'too-large' | 'bad-encoding' | 'unsupported-encoding'
  | 'empty-body' | 'not-utf8' | 'not-json' | 'too-deep'

/** Why a pair cannot be compared, for one side. */
export interface NotComparable {
  side: Side
  code: NotComparableCode
  /** For people: "candidate body is not valid UTF-8". */
  message: string
}

/** A decoding step's result: the value, or why the pair is not comparable. */
export type Decoded<T> = { ok: true, value: T } | { ok: false, reason: NotComparable }

/**
 * V8 puts a piece of the body into its parse errors; a reason keeps only
 * this much of the message, because the text ends up in stored reports.
 */
const maxErrorMessageLength = 120

/** 2^53: from here on, not every integer has its own double. */
const firstInexactInteger = 2 ** 53

export function decodeBody (
  response: ResponseSample, side: Side, limits: DecodeLimits
): Decoded<DecodedBody> {
  const bytes = decodeContent(response, side, limits)
  if (!bytes.ok) return bytes

  return parseBody(bytes.value, readContentType(response.headers), side, limits)
}

/** The body with its content-encoding undone, within the size limit. */
export function decodeContent (
  response: ResponseSample, side: Side, limits: DecodeLimits
): Decoded<Buffer> {
  const missing = findMissingAnswer(response, side)
  if (missing !== undefined) return { ok: false, reason: missing }

  const body = response.body ?? Buffer.alloc(0)
  const limit = limits.maxDecodedBytes
  if (body.length > limit) {
    return fail(side, 'too-large', `body is too large: ${body.length} bytes, more than ${limit}`)
  }

  let decoded = body
  for (const coding of listContentCodings(response.headers).reverse()) {
    const step = undoCoding(decoded, coding, side, limit)
    if (!step.ok) return step
    decoded = step.value
  }

  return { ok: true, value: decoded }
}

/**
 * Reads decoded bytes as JSON when the content type says JSON or when the
 * bytes parse as JSON; anything else compares by hash. A body that claims
 * to be JSON and is not cannot be compared.
 */
export function parseBody (
  bytes: Buffer, contentType: string, side: Side, limits: DecodeLimits
): Decoded<DecodedBody> {
  const claimsJson = isJsonContentType(contentType)
  const asBytes = (): Decoded<DecodedBody> => describeBytes(bytes, contentType)
  if (bytes.length === 0) return claimsJson ? fail(side, 'empty-body', 'body is empty') : asBytes()

  const text = readText(bytes)
  if (text === undefined) {
    return claimsJson ? fail(side, 'not-utf8', 'body is not valid UTF-8') : asBytes()
  }

  const parsed = parseJson(text, side, limits)
  const notJson = !parsed.ok && parsed.reason.code === 'not-json'

  return notJson && !claimsJson ? asBytes() : parsed
}

export function isJsonContentType (contentType: string): boolean {
  const mediaType = readMediaType(contentType)

  return mediaType === 'application/json' || mediaType.endsWith('+json')
}

/**
 * Lower-case and without spaces, so that `text/html; charset=UTF-8` equals
 * `text/html;charset=utf-8`.
 */
export function readContentType (headers: Record<string, string>): string {
  return (readHeader(headers, 'content-type') ?? '').toLowerCase().replace(/\s+/g, '')
}

/** A header by name, whatever the case its name was stored in. */
export function readHeader (headers: Record<string, string>, name: string): string | undefined {
  const direct = headers[name]
  if (direct !== undefined) return direct

  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) return headers[key]
  }

  return undefined
}

/** A backend that failed leaves nothing to compare, its status included. */
export function findNoAnswer (response: ResponseSample, side: Side): NotComparable | undefined {
  if (response.failure !== undefined || response.status === 0) {
    return explain(side, 'no-answer', `gave no answer: ${response.failure ?? 'no status'}`)
  }

  return undefined
}

/**
 * A backend that failed, or whose body the gateway could not keep, leaves
 * no body to compare.
 */
export function findMissingAnswer (
  response: ResponseSample, side: Side
): NotComparable | undefined {
  const noAnswer = findNoAnswer(response, side)
  if (noAnswer !== undefined) return noAnswer

  const received = response.bodyBytes ?? 0
  const kept = response.body?.length ?? 0
  if (kept === 0 && received > 0) {
    return explain(side, 'too-large', `body was not kept: ${received} bytes`)
  }

  return undefined
}

/** Codings in the order they were applied; `identity` is no coding. */
function listContentCodings (headers: Record<string, string>): string[] {
  const value = readHeader(headers, 'content-encoding') ?? ''

  return value.split(',').map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity')
}

type Decoder = (body: Buffer, options: { maxOutputLength: number }) => Buffer

/**
 * `maxOutputLength` makes zlib stop as soon as the output would pass the
 * limit, so a small gzip bomb never grows into memory.
 */
function undoCoding (body: Buffer, coding: string, side: Side, maxBytes: number): Decoded<Buffer> {
  const decode = decoders.get(coding)
  if (decode === undefined) {
    return fail(side, 'unsupported-encoding', `body has an unsupported content-encoding: ${coding}`)
  }

  try {
    return { ok: true, value: decode(body, { maxOutputLength: maxBytes }) }
  } catch (error) {
    return classifyCodingError(error, coding, side, maxBytes)
  }
}

/**
 * HTTP's deflate is zlib-wrapped, but some servers send raw deflate
 * streams; the zlib header (RFC 1950: method 8, check bits) tells them apart.
 */
function inflateDeflate (body: Buffer, options: { maxOutputLength: number }): Buffer {
  const first = body[0] ?? 0
  const second = body[1] ?? 0
  const wrapped = (first & 0x0f) === 8 && ((first << 8) | second) % 31 === 0

  return wrapped ? inflateSync(body, options) : inflateRawSync(body, options)
}

const decoders = new Map<string, Decoder>([
  ['gzip', gunzipSync],
  ['x-gzip', gunzipSync],
  ['br', brotliDecompressSync],
  ['deflate', inflateDeflate]
])

function classifyCodingError (
  error: unknown, coding: string, side: Side, maxBytes: number
): Decoded<Buffer> {
  if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
    return fail(side, 'too-large', `body is too large after decoding: more than ${maxBytes} bytes`)
  }

  return fail(side, 'bad-encoding', `body is not valid ${coding}: ${shortenMessage(error)}`)
}

const utf8Bom = '\uFEFF'

/** The text of the bytes when they are valid UTF-8, without a byte order mark. */
function readText (bytes: Buffer): string | undefined {
  if (!isUtf8(bytes)) return undefined

  const text = bytes.toString('utf8')

  return text.startsWith(utf8Bom) ? text.slice(1) : text
}

function parseJson (text: string, side: Side, limits: DecodeLimits): Decoded<DecodedBody> {
  let value: JsonValue
  try {
    value = JSON.parse(text) as JsonValue
  } catch (error) {
    return fail(side, 'not-json', `body is not JSON: ${shortenMessage(error)}`)
  }

  const shape = measureJson(value, limits.maxDepth)
  if (shape.tooDeep) {
    return fail(side, 'too-deep', `body is nested too deep: more than ${limits.maxDepth} levels`)
  }

  const body: JsonBody = shape.hasInexactNumbers
    ? { kind: 'json', value: parseExactJson(text), exactIntegers: true }
    : { kind: 'json', value, exactIntegers: false }

  return { ok: true, value: body }
}

export interface JsonShape {
  /** Nested deeper than the limit. */
  tooDeep: boolean
  /** Holds a number at or beyond ±2^53, which JSON.parse may have rounded. */
  hasInexactNumbers: boolean
}

/**
 * One pass over the parsed value, with its own stack of containers instead
 * of recursion, so no nesting can overflow the call stack (JSON.parse does
 * not recurse either, so it copes with any depth). Only when a number
 * reached 2^53 may precision have been lost, and the text is then parsed
 * again exactly.
 */
export function measureJson (root: JsonValue, maxDepth: number): JsonShape {
  const shape: JsonShape = { tooDeep: false, hasInexactNumbers: isInexactNumber(root) }
  const containers: JsonValue[] = typeof root === 'object' && root !== null ? [root] : []
  const depths: number[] = [1]
  while (containers.length > 0) {
    const container = containers.pop() as JsonValue[] | JsonObject
    const depth = depths.pop() as number
    if (depth > maxDepth) return { ...shape, tooDeep: true }

    for (const child of Array.isArray(container) ? container : Object.values(container)) {
      if (typeof child === 'object' && child !== null) {
        containers.push(child)
        depths.push(depth + 1)
      } else if (isInexactNumber(child)) {
        shape.hasInexactNumbers = true
      }
    }
  }

  return shape
}

function isInexactNumber (value: JsonValue): boolean {
  return typeof value === 'number' && Math.abs(value) >= firstInexactInteger
}

function describeBytes (bytes: Buffer, contentType: string): Decoded<BytesBody> {
  const sha256 = createHash('sha256').update(bytes).digest('hex')

  return { ok: true, value: { kind: 'bytes', contentType, sha256, bytes: bytes.length } }
}

function readMediaType (contentType: string): string {
  const end = contentType.indexOf(';')

  return (end < 0 ? contentType : contentType.slice(0, end)).trim().toLowerCase()
}

function shortenMessage (error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  if (message.length <= maxErrorMessageLength) return message

  return `${message.slice(0, maxErrorMessageLength)}…`
}

/** A failure whose message starts with the side: "candidate body is empty". */
function fail<T> (side: Side, code: NotComparableCode, what: string): Decoded<T> {
  return { ok: false, reason: explain(side, code, what) }
}

function explain (side: Side, code: NotComparableCode, what: string): NotComparable {
  return { side, code, message: `${side} ${what}` }
}
