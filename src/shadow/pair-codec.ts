import { applyDelta, DeltaDecodeError, minDeltaBodyBytes } from './body-delta.js'
import { copyInto } from './copy-into.js'
import { findBatchDeltas, shrinkRecord } from './record-deltas.js'
import type { CapturedRequest, CapturedResponse, Pair } from './pair.js'

/**
 * The form a batch of pairs takes in Redis: one string, which starts with
 * "SRB5" and the number of pairs, followed by the pairs' records one after
 * the other. A record is five 32-bit lengths (its description, then its
 * bodies in the order request, baseline, candidate, baseline repeat, with
 * 0xffffffff for a body that is absent), the description as JSON
 * (everything but the bodies), and the bodies as raw bytes. A candidate or
 * repeat body that differs from the baseline's in a few places is stored
 * as its delta from it (see body-delta.ts), which the top bit of its
 * length marks; "SRB4" batches, written before deltas, read the same way.
 *
 * The gateway writes each record, bodies whole, straight into its arena
 * (see pair-arena.ts), where a batch's records lie next to each other; a
 * thread finds the deltas (see record-deltas.ts). A batch then reaches
 * Redis as the header, views of the arena and the deltas, streamed as the
 * one value of a SET. The gateway copies no body into a batch buffer of
 * its own, and Redis keeps the value as it read it: a list element would
 * be copied once more into the list's own node.
 */

const magic = 'SRB5'
/** Marks this version can read: SRB4 is SRB5 without deltas. */
const readableMarks = new Set([magic, 'SRB4'])
const bodySlots = 4
const headerBytes = 4 * (1 + bodySlots)
/** A record's lengths: its description's, then its bodies'. */
export const recordHeaderBytes = headerBytes
const absent = 0xffff_ffff
/** In a body's length: the body is stored as its delta from the baseline's. */
export const deltaFlag = 0x8000_0000
const baselineSlot = 1
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
  /**
   * The bodies that may go as their delta from the baseline's, a bit per
   * slot (see record-deltas.ts); 0 when none may.
   */
  deltaSlots: number
}

export function encodePair (pair: Pair): EncodedPair {
  const { request, baseline, candidate, baselineRepeat } = pair
  const meta = JSON.stringify(describePair(pair))
  const metaBytes = Buffer.byteLength(meta)
  const bodies = [request.body, baseline.body, candidate.body, baselineRepeat?.body]
  let bodyBytes = 0
  for (const body of bodies) bodyBytes += body?.length ?? 0
  const deltaSlots = mayBeDelta(baseline, candidate, 2) | mayBeDelta(baseline, baselineRepeat, 3)

  return { meta, metaBytes, bodies, bytes: headerBytes + metaBytes + bodyBytes, deltaSlots }
}

/**
 * The slot's bit when its answer's body is worth a look for a delta from
 * the baseline's. Compressed bodies are not: after their first difference
 * they share nothing, and looking would only cost time.
 */
function mayBeDelta (baseline: CapturedResponse, answer: CapturedResponse | undefined, slot: number): number {
  if (baseline.body === undefined || answer?.body === undefined) return 0
  if (baseline.body.length < minDeltaBodyBytes || answer.body.length < minDeltaBodyBytes) return 0

  return isCompressed(baseline) || isCompressed(answer) ? 0 : 1 << slot
}

function isCompressed (answer: CapturedResponse): boolean {
  const encoding = answer.headers['content-encoding']?.trim().toLowerCase()
  return encoding !== undefined && encoding !== '' && encoding !== 'identity'
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

/** Writes the record, bodies whole, at the start of `target`, which holds at least `encoded.bytes`. */
export function writePair (encoded: EncodedPair, target: Buffer): void {
  target.writeUInt32BE(encoded.metaBytes, 0)
  let at = headerBytes + target.write(encoded.meta, headerBytes, 'utf8')
  encoded.bodies.forEach((body, slot) => {
    target.writeUInt32BE(body === undefined ? absent : body.length, 4 * (1 + slot))
    if (body !== undefined) at += copyInto(body, target, at)
  })
}

/** Where a record written by writePair keeps its bodies. */
export interface RecordLayout {
  /** Per slot: where its body starts in the record's buffer, its length, and a view of it (undefined: absent). */
  starts: number[]
  lengths: number[]
  bodies: Array<Buffer | undefined>
}

/** The layout of the whole-bodied record at `memory[start]`. */
export function readRecordLayout (memory: Buffer, start: number): RecordLayout {
  const starts: number[] = []
  const lengths: number[] = []
  const bodies: Array<Buffer | undefined> = []
  let at = start + headerBytes + memory.readUInt32BE(start)
  for (let slot = 0; slot < bodySlots; slot++) {
    const length = memory.readUInt32BE(start + 4 * (1 + slot))
    starts.push(at)
    lengths.push(length === absent ? 0 : length)
    bodies.push(length === absent ? undefined : memory.subarray(at, at + length))
    if (length !== absent) at += length
  }
  return { starts, lengths, bodies }
}

/** What a batch of `pairs` records starts with. */
export function batchHeader (pairs: number): Buffer {
  const header = Buffer.allocUnsafe(batchHeaderBytes)
  header.write(magic, 0, 'latin1')
  header.writeUInt32BE(pairs, 4)
  return header
}

/**
 * A whole batch as its header and its records, differing bodies as their
 * deltas, for callers that hold pairs rather than an arena (tools, tests).
 * It finds the deltas here, as the gateway's thread does.
 */
export function encodeBatchParts (pairs: readonly Pair[]): Buffer[] {
  const encoded = pairs.map(encodePair)
  const records = Buffer.allocUnsafe(encoded.reduce((sum, pair) => sum + pair.bytes, 0))
  const places: number[] = []
  let at = 0
  for (const pair of encoded) {
    writePair(pair, records.subarray(at))
    places.push(at, pair.deltaSlots)
    at += pair.bytes
  }
  const answer = findBatchDeltas(records, { id: 0, records: places })
  const parts = encoded.flatMap((pair, index) => {
    const start = places[2 * index] as number
    return shrinkRecord(records.subarray(start, start + pair.bytes), answer, index).parts
  })
  return [batchHeader(pairs.length), Buffer.concat(parts)]
}

/** The pairs of a batch given as parts, which joined are the batch (one part: the value read from Redis). */
export function decodeBatchParts (parts: readonly Buffer[]): Pair[] {
  const batch = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts)
  if (batch.length < batchHeaderBytes) throw new PairDecodeError('not a batch of pairs')
  const mark = batch.toString('latin1', 0, 4)
  if (!readableMarks.has(mark)) {
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
  const words = Array.from({ length: bodySlots }, (_, slot) => records.readUInt32BE(start + 4 * (1 + slot)))
  const isDelta = words.map((word) => word !== absent && (word & deltaFlag) !== 0)
  const lengths = words.map((word, slot) => isDelta[slot] === true ? (word & ~deltaFlag) : word)
  const bodyBytes = lengths.reduce((sum, length) => sum + (length === absent ? 0 : length), 0)
  const end = start + headerBytes + metaBytes + bodyBytes
  if (end > records.length) throw new PairDecodeError(`batch cut short in pair ${index}`)

  const meta = readDescription(records.toString('utf8', start + headerBytes, start + headerBytes + metaBytes), index)
  // A repeat may come without its body (it failed, or was too large), never a body without its repeat.
  if (lengths[3] !== absent && meta.baselineRepeat === undefined) {
    throw new PairDecodeError(`pair ${index} has a baseline repeat's body but no baseline repeat`)
  }

  let at = start + headerBytes + metaBytes
  const stored = lengths.map((length) => {
    if (length === absent) return undefined
    at += length
    return records.subarray(at - length, at)
  })
  const [requestBody, baselineBody, candidateBody, repeatBody] = stored.map((body, slot) =>
    body !== undefined && isDelta[slot] === true ? rebuild(stored[baselineSlot], body, slot, index) : body)
  const pair: Pair = {
    ...meta,
    request: withBody(meta.request, requestBody),
    baseline: withBody(meta.baseline, baselineBody),
    candidate: withBody(meta.candidate, candidateBody),
    ...(meta.baselineRepeat === undefined ? {} : { baselineRepeat: withBody(meta.baselineRepeat, repeatBody) })
  }

  return { pair, bytes: end - start }
}

const slotNames = ['request', 'baseline', 'candidate', 'baseline repeat']

function rebuild (baselineBody: Buffer | undefined, delta: Buffer, slot: number, index: number): Buffer {
  const name = slotNames[slot] ?? `body ${slot}`
  if (slot <= baselineSlot) throw new PairDecodeError(`pair ${index} marks its ${name} body as a delta, which only a candidate or repeat body can be`)
  if (baselineBody === undefined) {
    throw new PairDecodeError(`pair ${index} stores its ${name} body as a delta from a baseline body it does not have`)
  }
  try {
    return applyDelta(baselineBody, delta)
  } catch (error) {
    if (error instanceof DeltaDecodeError) throw new PairDecodeError(`pair ${index} has a damaged ${name} body: ${error.message}`)
    throw error
  }
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
