/** A place in the arena: a view to write a pair's record into, and what it holds until released. */
export interface ArenaSpan {
  /** Exactly the bytes asked for, a view of the arena. */
  view: Buffer
  /** Bytes this span keeps from other pairs until released (any skipped end of the arena included). */
  charged: number
}

/**
 * One buffer, allocated once, that holds the records of the pairs waiting
 * to be written to Redis (their descriptions and bodies, see pair-codec.ts),
 * used as a ring: records are taken at the head and released from the
 * tail, in the order they were taken.
 *
 * Why not keep the captured Buffers: each one is memory outside V8's heap.
 * Pairs waiting for their batch live just long enough for some of them to
 * be promoted to the old generation, and a body held by an old object only
 * goes at a full collection. At 1,000 pairs a second this memory grew by
 * 64 MB every second and a half, and V8 answered each time with a full
 * collection that stalled every live request. Copied here, a body's own
 * Buffer dies young, and the bytes waiting are one block that V8 never has
 * to chase.
 *
 * The head goes round the whole arena under steady traffic, so once
 * mirroring has run for a while the whole capacity is resident memory,
 * however little is pending.
 */
export class PairArena {
  readonly #memory: Buffer
  /** Where the next span starts. */
  #head = 0
  /** Bytes taken and not yet released, skipped ends of the arena included. */
  #used = 0

  constructor (capacityBytes: number) {
    // Shared memory, so that a thread can read the records too (see record-deltas.ts).
    this.#memory = Buffer.from(new SharedArrayBuffer(capacityBytes))
  }

  /** The memory every span is a view of. */
  get shared (): SharedArrayBuffer {
    return this.#memory.buffer as SharedArrayBuffer
  }

  get used (): number {
    return this.#used
  }

  /** A contiguous place of `bytes` at the head; undefined when there is none now. */
  take (bytes: number): ArenaSpan | undefined {
    const place = this.#reserve(bytes)
    if (place === undefined) return undefined

    return { view: this.#memory.subarray(place.offset, place.offset + bytes), charged: place.charged }
  }

  /**
   * Gives back the oldest spans' bytes; spans must be released in the order
   * they were taken. Never more than was taken: a miscount empties the
   * arena rather than throwing where a live request could pay for it.
   */
  release (charged: number): void {
    this.#used = Math.max(0, this.#used - charged)
    if (this.#used === 0) this.#head = 0
  }

  /**
   * A contiguous region of `bytes` at the head, or at the start of the
   * arena when the end is too short: the skipped end is then charged to
   * this span, so that releasing spans in order frees exactly what they
   * held.
   */
  #reserve (bytes: number): { offset: number, charged: number } | undefined {
    const size = this.#memory.length
    const tail = (this.#head - this.#used + size) % size
    const wrapped = this.#used > 0 && tail >= this.#head
    if (wrapped) return tail - this.#head >= bytes ? this.#advance(this.#head, bytes, 0) : undefined

    if (size - this.#head >= bytes) return this.#advance(this.#head, bytes, 0)
    if (tail >= bytes) return this.#advance(0, bytes, size - this.#head)

    return undefined
  }

  #advance (offset: number, bytes: number, skipped: number): { offset: number, charged: number } {
    this.#head = offset + bytes
    this.#used += skipped + bytes
    return { offset, charged: skipped + bytes }
  }
}

/**
 * The views as few buffers as they can be: views that follow each other in
 * the same memory become one view of it, uncopied.
 */
export function joinAdjacent (views: readonly Buffer[]): Buffer[] {
  const joined: Buffer[] = []
  for (const view of views) {
    const last = joined.at(-1)
    if (last !== undefined && last.buffer === view.buffer && last.byteOffset + last.length === view.byteOffset) {
      joined[joined.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + view.length)
    } else {
      joined.push(view)
    }
  }
  return joined
}
