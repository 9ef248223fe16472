import { findDelta, writeDelta, type BodyDelta } from './body-delta.js'
import { deltaFlag, readRecordLayout, recordHeaderBytes } from './pair-codec.js'

/**
 * Differing answers travel as their differences from the baseline's body
 * (see body-delta.ts). Finding them took about 12 µs of the event loop's
 * 250 per differing request in a profile under load, the largest single
 * cost of queueing a pair, so it is done off the event loop. The gateway
 * writes each record with whole bodies into the arena, which is shared
 * memory; the batch thread (see batch-worker.ts) reads a sealed batch's
 * records there, finds the deltas into one buffer of its own, and sends
 * each record with the delta in place of the body.
 *
 * The thread only reads the arena. Whatever becomes of it (late, gone),
 * the records it was given are still whole and can be sent as they are.
 */

/** The bodies that may go as a delta: the candidate's and the baseline repeat's. */
const candidateSlot = 2
const repeatSlot = 3
const slotsAfterBaseline = [candidateSlot, repeatSlot] as const

/** A batch for the thread: its records' places in the arena and, per record, the slots it may shrink (bit per slot). */
export interface DeltaRequest {
  id: number
  /** Pairs of (offset of the record in the arena, slots). */
  records: number[]
}

/** What the thread found for a batch. */
export interface DeltaAnswer {
  id: number
  /** Per record and per slot after the baseline's, the delta's start and length in `deltas`, or -1 and 0. */
  places: number[]
  deltas: Uint8Array
}

/** Finds the deltas of a batch's records, as the thread does: it reads `arena` and writes nothing there. */
export function findBatchDeltas (arena: Buffer, request: DeltaRequest): DeltaAnswer {
  const found: Array<{ delta: BodyDelta, body: Buffer } | undefined> = []
  let total = 0
  for (let index = 0; index < request.records.length; index += 2) {
    const layout = readRecordLayout(arena, request.records[index] as number)
    const slots = request.records[index + 1] as number
    const baseline = layout.bodies[1]
    for (const slot of slotsAfterBaseline) {
      const body = layout.bodies[slot]
      const delta = baseline !== undefined && body !== undefined && (slots & (1 << slot)) !== 0 ? findDelta(baseline, body) : undefined
      found.push(delta === undefined || body === undefined ? undefined : { delta, body })
      total += delta?.bytes ?? 0
    }
  }

  const deltas = Buffer.allocUnsafeSlow(total)
  const places: number[] = []
  let at = 0
  for (const entry of found) {
    if (entry === undefined) { places.push(-1, 0); continue }
    const end = writeDelta(entry.delta, entry.body, deltas, at)
    places.push(at, end - at)
    at = end
  }

  return { id: request.id, places, deltas: new Uint8Array(deltas.buffer, deltas.byteOffset, deltas.length) }
}

/** A record as it is sent, and the body bytes its deltas left out. */
export interface ShrunkRecord {
  parts: Buffer[]
  saved: number
}

/**
 * The parts a record is sent as, with the deltas found for it in place of
 * its bodies: a copy of its lengths, each such body's marked as a delta's,
 * then runs of the record's own bytes in the arena and the deltas. The
 * arena is only read: `record` is the whole record's view of it, `index`
 * its place in the batch.
 */
export function shrinkRecord (record: Buffer, answer: DeltaAnswer, index: number): ShrunkRecord {
  const placeOf = (order: number): number => 2 * (index * slotsAfterBaseline.length + order)
  if (slotsAfterBaseline.every((_, order) => (answer.places[placeOf(order)] as number) < 0)) return { parts: [record], saved: 0 }

  const layout = readRecordLayout(record, 0)
  const deltas = Buffer.from(answer.deltas.buffer, answer.deltas.byteOffset, answer.deltas.length)
  const lengths = Buffer.from(record.subarray(0, recordHeaderBytes))
  const parts: Buffer[] = [lengths]
  let saved = 0
  let copiedTo = recordHeaderBytes
  slotsAfterBaseline.forEach((slot, order) => {
    const place = placeOf(order)
    const start = answer.places[place] as number
    const length = answer.places[place + 1] as number
    const bodyAt = layout.starts[slot] as number
    const bodyLength = layout.lengths[slot] as number
    if (start < 0 || layout.bodies[slot] === undefined) return

    parts.push(record.subarray(copiedTo, bodyAt), deltas.subarray(start, start + length))
    lengths.writeUInt32BE((deltaFlag | length) >>> 0, lengthAt(slot))
    copiedTo = bodyAt + bodyLength
    saved += bodyLength - length
  })
  if (copiedTo < record.length) parts.push(record.subarray(copiedTo))

  return { parts, saved }
}

function lengthAt (slot: number): number {
  return 4 * (1 + slot)
}
