import type { CapturedRequest, CapturedResponse, Pair } from './pair.js'

/**
 * The form a batch of pairs takes in Redis: one string, which starts with
 * "SRB4" and the number of pairs, followed by the pairs' records one after
 * the other. A record is five 32-bit lengths (its description, then its
 * bodies in the order request, baseline, candidate, baseline repeat, with
 * 0xffffffff for a body that is absent), the description as JSON
 * (everything but the bodies), and the bodies as raw bytes.
 *
 * The gateway writes each record straight into its arena (see
 * pair-arena.ts), where a batch's records lie next to each other: a batch
 * then reaches Redis as the header and one or two views of the arena,
 * streamed as the one value of a SET. The gateway copies no body into a
 * batch buffer of its own, and Redis keeps the value as it read it: a list
 * element would be copied once more into the list's own node.
 */

const magic = 'SRB4'
const bodySlots = 4
const headerBytes = 4 * (1 + bodySlots)
const absent = 0xffff_ffff
/** The mark and the number of pairs. */
const batchHeaderBytes = 8

export class PairDecodeError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PairDecodeError'
  }
}

type Meta = Omit<Pair, 'request' | 'baseline' | 'candidate' | 'baselineRepeat'> & {
  request: Omit<Pair['request'], 'body'>
  baseline: Omit<CapturedResponse, 'body'>
  candidate: Omit<CapturedResponse, 'body'>
  baselineRepeat?: Omit<CapturedResponse, 'body'>
}

type Bodies = Array<Buffer | undefined>

/** A pair ready to be written: its description as JSON, its bodies, and the bytes the record takes. */
export interface EncodedPair {
  meta: string
  metaBytes: number
  bodies: Bodies
  bytes: number
}

export function encodePair (pair: Pair): EncodedPair {
  const { request, baseline, candidate, baselineRepeat } = pair
  const meta = JSON.stringify(describePair(pair))
  const metaBytes = Buffer.byteLength(meta)
  const bodies = [request.body, baseline.body, candidate.body, baselineRepeat?.body]
  const bodyBytes = bodies.reduce((sum, body) => sum + (body?.length ?? 0), 0)

  return { meta, metaBytes, bodies, bytes: headerBytes + metaBytes + bodyBytes }
}

/**
 * Every field named, in one order, whether set or not: the descriptions
 * then all have the same shape, which JSON.stringify turns into text
 * markedly faster than objects of many shapes (fields left undefined are
 * not written). A field added to a pair is a type error here until it is
 * listed.
 */
type Described<T> = { [K in keyof Required<T>]: T[K] }

function describePair (pair: Pair): Described<Meta> {
  return {
    id: pair.id,
    route: pair.route,
    capturedAt: pair.capturedAt,
    live: pair.live,
    bodiesIdentical: pair.bodiesIdentical,
    request: describeRequest(pair.request),
    baseline: describeResponse(pair.baseline),
    candidate: describeResponse(pair.candidate),
    baselineRepeat: pair.baselineRepeat === undefined ? undefined : describeResponse(pair.baselineRepeat)
  }
}

function describeRequest (request: CapturedRequest): Described<Omit<CapturedRequest, 'body'>> {
  return { method: request.method, path: request.path, query: request.query, headers: request.headers, withheld: request.withheld }
}

function describeResponse (response: CapturedResponse): Described<Omit<CapturedResponse, 'body'>> {
  return {
    status: response.status,
    headers: response.headers,
    bodyBytes: response.bodyBytes,
    bodyDigest: response.bodyDigest,
    tooLarge: response.tooLarge,
    withheld: response.withheld,
    latencyMs: response.latencyMs,
    failure: response.failure
  }
}

/** Writes the record at the start of `target`, which holds at least `encoded.bytes`. */
export function writePair (encoded: EncodedPair, target: Buffer): void {
  target.writeUInt32BE(encoded.metaBytes, 0)
  encoded.bodies.forEach((body, slot) => target.writeUInt32BE(body?.length ?? absent, 4 * (1 + slot)))
  let at = headerBytes + target.write(encoded.meta, headerBytes, 'utf8')
  for (const body of encoded.bodies) {
    if (body === undefined) continue
    body.copy(target, at)
    at += body.length
  }
}

/** What a batch of `pairs` records starts with. */
export function batchHeader (pairs: number): Buffer {
  const header = Buffer.allocUnsafe(batchHeaderBytes)
  header.write(magic, 0, 'latin1')
  header.writeUInt32BE(pairs, 4)
  return header
}

/** A whole batch as its header and its records in one new buffer, for callers that hold pairs rather than an arena (tools, tests). */
export function encodeBatchParts (pairs: readonly Pair[]): Buffer[] {
  const encoded = pairs.map(encodePair)
  const records = Buffer.allocUnsafe(encoded.reduce((sum, pair) => sum + pair.bytes, 0))
  let at = 0
  for (const pair of encoded) {
    writePair(pair, records.subarray(at))
    at += pair.bytes
  }
  return [batchHeader(pairs.length), records]
}

/** The pairs of a batch given as parts, which joined are the batch (one part: the value read from Redis). */
export function decodeBatchParts (parts: readonly Buffer[]): Pair[] {
  const batch = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts)
  if (batch.length < batchHeaderBytes) throw new PairDecodeError('not a batch of pairs')
  const mark = batch.toString('latin1', 0, 4)
  if (mark !== magic) {
    throw new PairDecodeError(`not a batch of pairs of this version: it starts with ${JSON.stringify(mark)}, this version writes ${JSON.stringify(magic)}`)
  }

  const count = batch.readUInt32BE(4)
  const records = batch.subarray(batchHeaderBytes)
  const pairs: Pair[] = []
  let at = 0
  for (let index = 0; index < count; index++) {
    const { pair, bytes } = decodePair(records, at, index)
    pairs.push(pair)
    at += bytes
  }
  if (at !== records.length) throw new PairDecodeError(`batch has ${records.length - at} bytes after its last pair`)

  return pairs
}

function decodePair (records: Buffer, start: number, index: number): { pair: Pair, bytes: number } {
  if (records.length - start < headerBytes) throw new PairDecodeError(`batch cut short at pair ${index}`)

  const metaBytes = records.readUInt32BE(start)
  const lengths = Array.from({ length: bodySlots }, (_, slot) => records.readUInt32BE(start + 4 * (1 + slot)))
  const bodyBytes = lengths.reduce((sum, length) => sum + (length === absent ? 0 : length), 0)
  const end = start + headerBytes + metaBytes + bodyBytes
  if (end > records.length) throw new PairDecodeError(`batch cut short in pair ${index}`)

  const meta = readDescription(records.toString('utf8', start + headerBytes, start + headerBytes + metaBytes), index)
  // A repeat may come without its body (it failed, or was too large), never a body without its repeat.
  if (lengths[3] !== absent && meta.baselineRepeat === undefined) {
    throw new PairDecodeError(`pair ${index} has a baseline repeat's body but no baseline repeat`)
  }

  let at = start + headerBytes + metaBytes
  const [requestBody, baselineBody, candidateBody, repeatBody] = lengths.map((length) => {
    if (length === absent) return undefined
    at += length
    return records.subarray(at - length, at)
  })
  const pair: Pair = {
    ...meta,
    request: withBody(meta.request, requestBody),
    baseline: withBody(meta.baseline, baselineBody),
    candidate: withBody(meta.candidate, candidateBody),
    ...(meta.baselineRepeat === undefined ? {} : { baselineRepeat: withBody(meta.baselineRepeat, repeatBody) })
  }

  return { pair, bytes: end - start }
}

/** A pair's description, checked for the parts every pair has. */
function readDescription (text: string, index: number): Meta {
  let meta: unknown
  try {
    meta = JSON.parse(text)
  } catch {
    throw new PairDecodeError(`pair ${index} has no readable description`)
  }
  const described = isObject(meta) && ['request', 'baseline', 'candidate'].every((part) => isObject(meta[part])) &&
    (meta.baselineRepeat === undefined || isObject(meta.baselineRepeat))
  if (!described) throw new PairDecodeError(`pair ${index} has a description without its request and both answers`)

  return meta as Meta
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The part with this body, or as it is when there is none. */
function withBody<T> (value: T, body: Buffer | undefined): T & { body?: Buffer } {
  return (body === undefined ? value : { ...value, body }) as T & { body?: Buffer }
}
