import type { Socket } from 'node:net'
import { Command } from 'ioredis'
import type { RedisClient } from './redis-connection.js'

/** Smaller commands are copied into one buffer as ioredis always does: the copy costs nothing worth saving. */
const streamFromBytes = 64 * 1024

/**
 * RPUSH of Buffer parts that reach the socket as they are.
 *
 * ioredis copies every argument of a command into one new buffer before
 * writing it. For a batch of pairs that is megabytes per batch, allocated
 * outside V8's heap, and V8 answers a fast-growing amount of such memory
 * with full garbage collections, which pause the event loop the live
 * requests share. Here the socket is corked, each part is written as it is,
 * and the kernel gets them together with one writev, uncopied.
 *
 * Only for commands sent on their own: in a pipeline or a MULTI, ioredis
 * writes what toWritable returns somewhere else than the socket it passes,
 * which is why pushParts builds the command itself and exports nothing else.
 */
class StreamedPush extends Command {
  readonly #key: string
  readonly #parts: readonly Buffer[]

  constructor (key: string, parts: readonly Buffer[]) {
    super('rpush', [key, ...parts], { replyEncoding: 'utf8' })
    this.#key = key
    this.#parts = parts
  }

  override toWritable (socket: object): string | Buffer {
    const bytes = this.#parts.reduce((sum, part) => sum + part.length, 0)
    if (bytes < streamFromBytes || !isSocket(socket)) return super.toWritable(socket)

    socket.cork()
    let pending = `*${this.#parts.length + 2}\r\n$5\r\nrpush\r\n$${Buffer.byteLength(this.#key)}\r\n${this.#key}\r\n`
    for (const part of this.#parts) {
      socket.write(`${pending}$${part.length}\r\n`)
      socket.write(part)
      pending = '\r\n'
    }
    // ioredis writes the returned piece right after this returns, so the
    // socket is uncorked once the whole command is in it.
    process.nextTick(() => socket.uncork())

    return pending
  }
}

function isSocket (socket: object): socket is Pick<Socket, 'cork' | 'uncork' | 'write'> {
  const candidate = socket as Partial<Socket>
  return typeof candidate.cork === 'function' && typeof candidate.uncork === 'function' && typeof candidate.write === 'function'
}

/** Appends the parts to a list, as RPUSH, without copying them; resolves to the list's new length. */
export async function pushParts (redis: RedisClient, key: string, parts: readonly Buffer[]): Promise<number> {
  const reply: unknown = await redis.sendCommand(new StreamedPush(key, parts))
  return Number(reply)
}
