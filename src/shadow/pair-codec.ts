import type { CapturedResponse, Pair } from './pair.js'

/**
 * The form a batch of pairs takes in Redis: a list of parts. The first part
 * is "SRB2" and the number of pairs; each pair is then one small JSON
 * part (everything but the bodies, and which bodies follow) and its bodies
 * as raw parts of their own, in the order request, baseline, candidate,
 * baseline repeat.
 *
 * Bodies are never copied into a batch buffer of ours: they go to Redis as
 * command arguments and come back as list elements, so a body is copied
 * once on its way out (by the Redis client) instead of three times.
 */

const magic = 'SRB2'

export class PairDecodeError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PairDecodeError'
  }
}

type BodyFlags = [boolean, boolean, boolean, boolean]

type Meta = Omit<Pair, 'request' | 'baseline' | 'candidate' | 'baselineRepeat'> & {
  request: Omit<Pair['request'], 'body'>
  baseline: Omit<CapturedResponse, 'body'>
  candidate: Omit<CapturedResponse, 'body'>
  baselineRepeat?: Omit<CapturedResponse, 'body'>
  /** Which of the four bodies follow this part. */
  bodies: BodyFlags
}

/** A batch's parts, ready to be pushed to a Redis list. */
export function encodeBatchParts (pairs: readonly Pair[]): Buffer[] {
  const header = Buffer.allocUnsafe(8)
  header.write(magic, 0, 'latin1')
  header.writeUInt32BE(pairs.length, 4)
  const parts: Buffer[] = [header]
  for (const pair of pairs) appendPair(parts, pair)

  return parts
}

/** Bytes a pair adds to a batch, counted without encoding it. */
export function measurePair (pair: Pair): number {
  const bodies = [pair.request.body, pair.baseline.body, pair.candidate.body, pair.baselineRepeat?.body]
  const headers = [pair.request.headers, pair.baseline.headers, pair.candidate.headers]
    .reduce((sum, set) => sum + Object.entries(set).reduce((total, [name, value]) => total + name.length + value.length + 6, 0), 0)

  // Headers plus a fixed allowance for the other metadata fields.
  return bodies.reduce((sum, body) => sum + (body?.length ?? 0), 0) + headers + 512
}

export function decodeBatchParts (parts: readonly Buffer[]): Pair[] {
  const header = parts[0]
  if (header === undefined || header.length !== 8 || header.toString('latin1', 0, 4) !== magic) {
    throw new PairDecodeError('not a batch of pairs')
  }

  const count = header.readUInt32BE(4)
  const pairs: Pair[] = []
  let next = 1
  for (let index = 0; index < count; index++) {
    const { pair, used } = decodePair(parts, next)
    pairs.push(pair)
    next += used
  }
  if (next !== parts.length) throw new PairDecodeError(`batch has ${parts.length - next} parts after its last pair`)

  return pairs
}

function appendPair (parts: Buffer[], pair: Pair): void {
  const { request, baseline, candidate, baselineRepeat, ...rest } = pair
  const bodies = [request.body, baseline.body, candidate.body, baselineRepeat?.body]
  const meta: Meta = {
    ...rest,
    request: withoutBody(request),
    baseline: withoutBody(baseline),
    candidate: withoutBody(candidate),
    ...(baselineRepeat === undefined ? {} : { baselineRepeat: withoutBody(baselineRepeat) }),
    bodies: bodies.map((body) => body !== undefined) as BodyFlags
  }
  parts.push(Buffer.from(JSON.stringify(meta)))
  for (const body of bodies) if (body !== undefined) parts.push(body)
}

function decodePair (parts: readonly Buffer[], at: number): { pair: Pair, used: number } {
  const metaPart = parts[at]
  if (metaPart === undefined) throw new PairDecodeError(`batch cut short at part ${at}`)

  let meta: Meta
  try {
    meta = JSON.parse(metaPart.toString('utf8')) as Meta
  } catch {
    throw new PairDecodeError(`part ${at} is not a pair's description`)
  }
  if (!Array.isArray(meta.bodies) || meta.bodies.length !== 4) throw new PairDecodeError(`part ${at} does not say which bodies follow`)

  let used = 1
  const bodies = meta.bodies.map((present) => {
    if (!present) return undefined
    const body = parts[at + used]
    if (body === undefined) throw new PairDecodeError(`batch cut short: a body of the pair at part ${at} is missing`)
    used++
    return body
  })
  const [requestBody, baselineBody, candidateBody, repeatBody] = bodies
  const { bodies: _flags, ...fields } = meta
  const pair: Pair = {
    ...fields,
    request: withBody(meta.request, requestBody),
    baseline: withBody(meta.baseline, baselineBody),
    candidate: withBody(meta.candidate, candidateBody),
    ...(meta.baselineRepeat === undefined ? {} : { baselineRepeat: withBody(meta.baselineRepeat, repeatBody) })
  }

  return { pair, used }
}

function withoutBody<T extends { body?: Buffer }> (value: T): Omit<T, 'body'> {
  const { body: _body, ...rest } = value
  return rest
}

/** The part with this body, or as it is when there is none. */
export function withBody<T> (value: T, body: Buffer | undefined): T & { body?: Buffer } {
  return (body === undefined ? value : { ...value, body }) as T & { body?: Buffer }
}
