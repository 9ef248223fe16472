import type { CapturedResponse, Pair } from './pair.js'

/**
 * The binary form pairs take in Redis. Bodies stay raw bytes (no base64,
 * no JSON string escaping), and everything else is one small JSON header:
 *
 *   pair  = u32 metaLength, meta JSON, then four bodies, each
 *           u32 length (0xFFFFFFFF: absent) and its bytes, in the order
 *           request, baseline, candidate, baseline repeat
 *   batch = "SRB1", u32 count, then per pair: u32 length, pair
 */

const magic = Buffer.from('SRB1')
const absent = 0xffffffff

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

export function encodePair (pair: Pair): Buffer {
  const { request, baseline, candidate, baselineRepeat, ...rest } = pair
  const meta: Meta = {
    ...rest,
    request: withoutBody(request),
    baseline: withoutBody(baseline),
    candidate: withoutBody(candidate),
    ...(baselineRepeat === undefined ? {} : { baselineRepeat: withoutBody(baselineRepeat) })
  }
  const metaBytes = Buffer.from(JSON.stringify(meta))
  const bodies = [request.body, baseline.body, candidate.body, baselineRepeat?.body]
  const size = 4 + metaBytes.length + bodies.reduce((sum, body) => sum + 4 + (body?.length ?? 0), 0)

  const out = Buffer.allocUnsafe(size)
  let offset = out.writeUInt32BE(metaBytes.length, 0)
  offset += metaBytes.copy(out, offset)
  for (const body of bodies) {
    offset = out.writeUInt32BE(body === undefined ? absent : body.length, offset)
    if (body !== undefined) offset += body.copy(out, offset)
  }

  return out
}

export function encodeBatch (pairs: Buffer[]): Buffer {
  const header = Buffer.allocUnsafe(8)
  magic.copy(header, 0)
  header.writeUInt32BE(pairs.length, 4)
  const parts: Buffer[] = [header]
  for (const pair of pairs) {
    const length = Buffer.allocUnsafe(4)
    length.writeUInt32BE(pair.length, 0)
    parts.push(length, pair)
  }

  return Buffer.concat(parts)
}

export function decodeBatch (batch: Buffer): Pair[] {
  if (batch.length < 8 || !batch.subarray(0, 4).equals(magic)) throw new PairDecodeError('not a batch of pairs')

  const count = batch.readUInt32BE(4)
  const pairs: Pair[] = []
  let offset = 8
  for (let index = 0; index < count; index++) {
    const length = readLength(batch, offset)
    pairs.push(decodePair(slice(batch, offset + 4, length)))
    offset += 4 + length
  }

  return pairs
}

export function decodePair (bytes: Buffer): Pair {
  const metaLength = readLength(bytes, 0)
  const meta = JSON.parse(slice(bytes, 4, metaLength).toString('utf8')) as Meta
  let offset = 4 + metaLength
  const bodies: Array<Buffer | undefined> = []
  for (let index = 0; index < 4; index++) {
    const length = readLength(bytes, offset)
    bodies.push(length === absent ? undefined : slice(bytes, offset + 4, length))
    offset += 4 + (length === absent ? 0 : length)
  }

  const [requestBody, baselineBody, candidateBody, repeatBody] = bodies
  return {
    ...meta,
    request: withBody(meta.request, requestBody),
    baseline: withBody(meta.baseline, baselineBody),
    candidate: withBody(meta.candidate, candidateBody),
    ...(meta.baselineRepeat === undefined ? {} : { baselineRepeat: withBody(meta.baselineRepeat, repeatBody) })
  }
}

function withoutBody<T extends { body?: Buffer }> (value: T): Omit<T, 'body'> {
  const { body: _body, ...rest } = value
  return rest
}

function withBody<T> (value: T, body: Buffer | undefined): T & { body?: Buffer } {
  return (body === undefined ? value : { ...value, body }) as T & { body?: Buffer }
}

function readLength (bytes: Buffer, offset: number): number {
  if (offset + 4 > bytes.length) throw new PairDecodeError(`pair cut short at byte ${offset}`)
  return bytes.readUInt32BE(offset)
}

function slice (bytes: Buffer, start: number, length: number): Buffer {
  if (start + length > bytes.length) throw new PairDecodeError(`pair cut short: ${length} bytes wanted at byte ${start}`)
  return bytes.subarray(start, start + length)
}
