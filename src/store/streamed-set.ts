import type { Socket } from 'node:net'
import { Command } from 'ioredis'
import type { RedisClient } from './redis-connection.js'

/** Smaller values are joined into one buffer as ioredis always does: the copy costs nothing worth saving. */
const streamFromBytes = 64 * 1024

/**
 * SET of a value given as Buffer parts, with an expiry, that reach the
 * socket as they are: the value Redis stores is the parts one after the
 * other.
 *
 * ioredis copies every argument of a command into one new buffer before
 * writing it. For a batch of pairs that is megabytes per batch, allocated
 * outside V8's heap, and V8 answers a fast-growing amount of such memory
 * with full garbage collections, which pause the event loop the live
 * requests share. Here the socket is corked, the value's length is written
 * once and each part after it as it is, and the kernel gets them together
 * with one writev, uncopied.
 *
 * Only for commands sent on their own: in a pipeline or a MULTI, ioredis
 * writes what toWritable returns somewhere else than the socket it passes,
 * which is why setParts builds the command itself and exports nothing else.
 */
class StreamedSet extends Command {
  readonly #key: string
  readonly #parts: readonly Buffer[]
  readonly #expireMs: string

  constructor (key: string, parts: readonly Buffer[], expireMs: number) {
    // The value is joined only for a small one (see toWritable).
    super('set', [key, Buffer.alloc(0), 'PX', String(expireMs)], { replyEncoding: 'utf8' })
    this.#key = key
    this.#parts = parts
    this.#expireMs = String(expireMs)
  }

  override toWritable (socket: object): string | Buffer {
    const bytes = this.#parts.reduce((sum, part) => sum + part.length, 0)
    if (bytes < streamFromBytes || !isSocket(socket)) {
      this.args[1] = Buffer.concat(this.#parts, bytes)
      return super.toWritable(socket)
    }

    socket.cork()
    socket.write(`*5\r\n$3\r\nset\r\n$${Buffer.byteLength(this.#key)}\r\n${this.#key}\r\n$${bytes}\r\n`)
    for (const part of this.#parts) socket.write(part)
    // ioredis writes the returned piece right after this returns, so the
    // socket is uncorked once the whole command is in it.
    process.nextTick(() => socket.uncork())

    return `\r\n$2\r\nPX\r\n$${this.#expireMs.length}\r\n${this.#expireMs}\r\n`
  }
}

function isSocket (socket: object): socket is Pick<Socket, 'cork' | 'uncork' | 'write'> {
  const candidate = socket as Partial<Socket>
  return typeof candidate.cork === 'function' && typeof candidate.uncork === 'function' && typeof candidate.write === 'function'
}

/** Stores the parts, one after the other, as the value of `key`, which expires after `expireMs`; nothing is copied. */
export async function setParts (redis: RedisClient, key: string, parts: readonly Buffer[], expireMs: number): Promise<void> {
  await redis.sendCommand(new StreamedSet(key, parts, expireMs))
}
