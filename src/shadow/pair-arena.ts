/** A place in the arena: where a pair's bodies were copied, and what it holds until released. */
export interface ArenaSpan {
  /** The bodies, as views of the arena, in the order given. */
  bodies: Buffer[]
  /** Bytes this span keeps from other pairs until released (any skipped end of the ring included). */
  charged: number
}

/**
 * One buffer, allocated once, that holds the bodies of the pairs waiting to
 * be written to Redis, as a ring: pairs are taken at the head and released
 * from the tail, in the order they were taken.
 *
 * Why not keep the captured Buffers: each one is memory outside V8's heap.
 * Pairs waiting for their batch live just long enough for some of them to
 * be promoted to the old generation, and a body held by an old object only
 * goes at a full collection. At 1,000 pairs a second this memory grew by
 * 64 MB every second and a half, and V8 answered each time with a full
 * collection that stalled every live request. Copied here, a body's own
 * Buffer dies young, and the bytes waiting are a fixed block that V8 never
 * has to chase. The copy costs a few microseconds per pair.
 */
export class PairArena {
  readonly #memory: Buffer
  /** Where the next span starts. */
  #head = 0
  /** Bytes taken and not yet released, skipped ends of the ring included. */
  #used = 0

  constructor (capacityBytes: number) {
    // Pages the ring never reaches are never touched, so a large bound
    // costs address space, not memory.
    this.#memory = Buffer.alloc(capacityBytes)
  }

  get capacity (): number {
    return this.#memory.length
  }

  get used (): number {
    return this.#used
  }

  /** Copies the bodies next to each other; undefined when they do not fit now. */
  take (bodies: readonly Buffer[]): ArenaSpan | undefined {
    const bytes = bodies.reduce((sum, body) => sum + body.length, 0)
    const place = this.#reserve(bytes)
    if (place === undefined) return undefined

    let at = place.offset
    const views = bodies.map((body) => {
      body.copy(this.#memory, at)
      const view = this.#memory.subarray(at, at + body.length)
      at += body.length
      return view
    })
    return { bodies: views, charged: place.charged }
  }

  /** Gives back the oldest spans' bytes; spans must be released in the order they were taken. */
  release (charged: number): void {
    if (charged > this.#used) throw new RangeError(`releasing ${charged} bytes of ${this.#used} taken`)

    this.#used -= charged
    if (this.#used === 0) this.#head = 0
  }

  /**
   * A contiguous region of `bytes` at the head, or at the start of the ring
   * when the end is too short: the skipped end is then charged to this
   * span, so that releasing spans in order frees exactly what they held.
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
