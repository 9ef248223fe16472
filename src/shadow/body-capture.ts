import { createHash, type Hash } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'

export interface CapturedBody {
  /** The whole body, when it fit under the cap. */
  body?: Buffer
  bodyBytes: number
  /** SHA-256 (hex) of a body over the cap. */
  bodyDigest?: string
  tooLarge?: true
}

/**
 * Keeps a body's chunks up to a cap. A body that goes over the cap is
 * hashed instead of kept, so that two equal large bodies are still known
 * to be equal without holding either in memory.
 */
export class BodyCapture {
  readonly #maxBytes: number
  #chunks: Buffer[] = []
  #bytes = 0
  #hash: Hash | undefined

  constructor (maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  add (chunk: Buffer): void {
    this.#bytes += chunk.length
    if (this.#hash !== undefined) { this.#hash.update(chunk); return }
    if (this.#bytes <= this.#maxBytes) { this.#chunks.push(chunk); return }

    this.#hash = createHash('sha256')
    for (const kept of this.#chunks) this.#hash.update(kept)
    this.#hash.update(chunk)
    this.#chunks = []
  }

  finish (): CapturedBody {
    if (this.#hash !== undefined) return { bodyBytes: this.#bytes, bodyDigest: this.#hash.digest('hex'), tooLarge: true }

    const body = this.#chunks.length === 1 ? this.#chunks[0] as Buffer : Buffer.concat(this.#chunks, this.#bytes)
    return { body, bodyBytes: this.#bytes }
  }
}

/**
 * A pass-through that copies what streams to the client into a capture;
 * `onEnd` runs once the whole body went through, `onCutOff` when the
 * stream ends early (the client went away, the backend cut the body).
 */
export function tapStream (capture: BodyCapture, onEnd: () => void, onCutOff: () => void): Transform {
  let ended = false
  const tap = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      capture.add(chunk)
      callback(null, chunk)
    },
    flush (callback) {
      ended = true
      onEnd()
      callback()
    }
  })
  tap.once('close', () => { if (!ended) onCutOff() })

  return tap
}

/** Reads a whole body into a capture; resolves when it ended, rejects when it broke. */
export async function readInto (body: Readable, capture: BodyCapture): Promise<void> {
  for await (const chunk of body) capture.add(chunk as Buffer)
}
