import { copyInto } from './copy-into.js'

/**
 * A body stored as its differences from another: the candidate's answer
 * usually repeats the baseline's almost byte for byte, so a differing pair
 * need not carry the second body whole. A delta is a list of operations
 * that rebuild the body: copy a run of the reference body, or take bytes
 * written out in the delta itself.
 *
 * Finding the delta must cost the gateway less than shipping the bytes it
 * saves, so it works in blocks and with Buffer's native compare and
 * indexOf rather than byte by byte in JavaScript: a block equal to the
 * reference at the current offset is copied, and the blocks grow while
 * they keep matching; a block that differs is written out, and the next
 * block is looked up a little before and after where it was expected,
 * the nearest match winning (in a list of alike items the same bytes
 * recur every item), which finds the reference again after a value that
 * changed length. When that fails, a few wider look-ups find it after an
 * insertion or a deletion of a few KB (an item more or less in a list). A
 * changed block is written out whole, so a delta holds up to a block of
 * equal bytes around each change. Bodies that share little (a compressed
 * body, a different document) give up early and are stored whole.
 *
 * The stored form starts with the body's length as a 32-bit word, then
 * its operations, each starting with a 32-bit word: with the top bit set,
 * copy that many bytes (the low 31 bits) of the reference from the offset
 * in the next word; otherwise, the word is a length and that many bytes
 * follow.
 */

/** Bodies smaller than this are stored whole: there is too little to save. */
export const minDeltaBodyBytes = 2_048

/** The smallest block compared; the size of what a change costs, at most, around it. */
const blockBytes = 512
/** Blocks grow to this while they match, so long equal stretches cost few compares. */
const maxBlockBytes = 65_536
/** What is looked up to find the reference again after a change. */
const anchorBytes = 32
/**
 * The first look-up: from this far before the expected place (an
 * insertion up to this long) to this far after it (a deletion up to this
 * long). A nearer match is likelier the right one in repetitive JSON.
 */
const nearBehind = 256
const nearAhead = 2_048
/**
 * The wider look-up, when the first fails: from where the reference was
 * last copied (so after any insertion) to this far after the expected
 * place (a deletion up to this long), this many bytes at most.
 */
const wideAhead = 8_192
const maxWideBytes = 24_576
/** Wider look-ups per body: each costs a few microseconds, and on a body unlike the reference they all fail. */
const maxWideLookups = 8
/**
 * Each changed block costs a look-up: past this many the body goes whole,
 * which bounds the time a pair can take on the gateway's event loop (a
 * changed block costs about a microsecond).
 */
const maxChangedBlocks = 48
/** Bodies that share little give up early: after this many changed blocks without a copied one. */
const maxBlocksBeforeCopy = 8

const copyFlag = 0x8000_0000
const lengthBytes = 4
const copyBytes = 8
const literalHeaderBytes = 4

export class DeltaDecodeError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'DeltaDecodeError'
  }
}

/**
 * A found delta: `operations` holds triples of (kind, start, length), kind
 * 0 copying from the reference and kind 1 taking the body's own bytes;
 * `bytes` is the size of its stored form.
 */
export interface BodyDelta {
  operations: number[]
  bytes: number
}

const copy = 0
const literal = 1

/**
 * The delta that rebuilds `body` from `reference`, or undefined when it
 * would not save at least half of the body.
 */
export function findDelta (reference: Buffer, body: Buffer): BodyDelta | undefined {
  if (body.length < minDeltaBodyBytes || reference.length < minDeltaBodyBytes) return undefined

  const builder = new DeltaBuilder(body.length / 2)
  let at = 0
  let from = 0
  /** Where the last copied block ended in the reference. */
  let copiedTo = 0
  let size = blockBytes
  let changedBlocks = 0
  let wideLookups = 0
  while (at < body.length) {
    const length = Math.min(size, body.length - at)
    if (from + length <= reference.length && reference.compare(body, at, at + length, from, from + length) === 0) {
      builder.add(copy, from, length)
      at += length
      from += length
      copiedTo = from
      size = Math.min(size * 2, maxBlockBytes)
      continue
    }
    if (size > blockBytes) {
      size = Math.max(blockBytes, size / 4)
      continue
    }

    // This block is written out. Where does the reference go on? As far
    // on as the block, unless the next bytes are found a little off that.
    builder.add(literal, at, length)
    changedBlocks++
    const sharesLittle = changedBlocks >= maxBlocksBeforeCopy && builder.copied === 0
    if (builder.gaveUp || changedBlocks > maxChangedBlocks || sharesLittle) return undefined
    at += length
    from += length
    if (at + anchorBytes > body.length) continue

    let found = findNearest(reference, body, at, from)
    if (found === -1 && wideLookups < maxWideLookups) {
      wideLookups++
      const end = from + wideAhead
      found = findAnchor(reference, body, at, Math.max(copiedTo, end - maxWideBytes), end)
    }
    if (found !== -1) from = found
  }

  return builder.finish()
}

/**
 * Where `body`'s bytes from `at` reappear in `reference` nearest to
 * `expected`, within the near reach, or -1. In JSON of many alike items
 * the same bytes recur every item: the nearest is the likeliest right.
 */
function findNearest (reference: Buffer, body: Buffer, at: number, expected: number): number {
  // Behind, only as far back as the match ahead is far: a nearer one wins.
  const ahead = findAnchor(reference, body, at, expected, expected + nearAhead)
  const reach = ahead === -1 ? nearBehind : Math.min(nearBehind, ahead - expected - 1)
  const start = Math.max(0, expected - reach)
  const end = Math.min(reference.length, expected + anchorBytes - 1)
  if (end - start < anchorBytes) return ahead

  const behind = reference.subarray(start, end).lastIndexOf(body.subarray(at, at + anchorBytes))
  return behind === -1 ? ahead : start + behind
}

/** Where `body`'s bytes from `at` first reappear in `reference` between `start` and `end`, or -1. */
function findAnchor (reference: Buffer, body: Buffer, at: number, start: number, end: number): number {
  start = Math.max(0, start)
  end = Math.min(reference.length, end + anchorBytes)
  if (end - start < anchorBytes) return -1

  const found = reference.subarray(start, end).indexOf(body.subarray(at, at + anchorBytes))
  return found === -1 ? -1 : start + found
}

class DeltaBuilder {
  readonly operations: number[] = []
  bytes = lengthBytes
  /** Bytes copied from the reference so far. */
  copied = 0
  gaveUp = false
  readonly #maxBytes: number

  constructor (maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** Adds an operation, joining it to the last one when it continues it. */
  add (kind: number, start: number, length: number): void {
    if (length === 0) return
    if (kind === copy) this.copied += length
    const { operations } = this
    const last = operations.length - 3
    if (last >= 0 && operations[last] === kind && (operations[last + 1] as number) + (operations[last + 2] as number) === start) {
      operations[last + 2] = (operations[last + 2] as number) + length
      if (kind === literal) this.bytes += length
    } else {
      operations.push(kind, start, length)
      this.bytes += kind === copy ? copyBytes : literalHeaderBytes + length
    }
    if (this.bytes > this.#maxBytes) this.gaveUp = true
  }

  finish (): BodyDelta | undefined {
    return this.gaveUp ? undefined : { operations: this.operations, bytes: this.bytes }
  }
}

/** Writes the delta's stored form at `target[at]`; returns where it ends. */
export function writeDelta (delta: BodyDelta, body: Buffer, target: Buffer, at: number): number {
  const { operations } = delta
  target.writeUInt32BE(body.length, at)
  at += lengthBytes
  for (let index = 0; index < operations.length; index += 3) {
    const start = operations[index + 1] as number
    const length = operations[index + 2] as number
    if (operations[index] === copy) {
      target.writeUInt32BE((copyFlag | length) >>> 0, at)
      target.writeUInt32BE(start, at + 4)
      at += copyBytes
    } else {
      target.writeUInt32BE(length, at)
      at += literalHeaderBytes + copyInto(body.subarray(start, start + length), target, at + literalHeaderBytes)
    }
  }
  return at
}

/** The body a stored delta rebuilds from `reference`. */
export function applyDelta (reference: Buffer, delta: Buffer): Buffer {
  if (delta.length < lengthBytes) throw new DeltaDecodeError('delta cut short before its length')
  const expected = delta.readUInt32BE(0)
  const parts: Buffer[] = []
  let rebuilt = 0
  let at = lengthBytes
  while (at < delta.length) {
    if (delta.length - at < literalHeaderBytes) throw new DeltaDecodeError(`delta cut short at byte ${at}`)
    const word = delta.readUInt32BE(at)
    let part: Buffer
    if ((word & copyFlag) !== 0) {
      if (delta.length - at < copyBytes) throw new DeltaDecodeError(`delta cut short at byte ${at}`)
      const length = word & ~copyFlag
      const start = delta.readUInt32BE(at + 4)
      if (start + length > reference.length) {
        throw new DeltaDecodeError(`delta copies bytes ${start}–${start + length} of a ${reference.length}-byte reference`)
      }
      part = reference.subarray(start, start + length)
      at += copyBytes
    } else {
      const end = at + literalHeaderBytes + word
      if (end > delta.length) throw new DeltaDecodeError(`delta cut short in the bytes written out at byte ${at}`)
      part = delta.subarray(at + literalHeaderBytes, end)
      at = end
    }
    parts.push(part)
    rebuilt += part.length
  }
  if (rebuilt !== expected) throw new DeltaDecodeError(`delta rebuilds ${rebuilt} bytes of a ${expected}-byte body`)

  return Buffer.concat(parts, rebuilt)
}
