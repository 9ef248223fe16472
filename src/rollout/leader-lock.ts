import type { RedisClient } from '../store/redis-connection.js'

/*
 * Renews the lease only for its holder. KEYS: the lock. ARGV: holder, lease ms.
 */
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

/* Lets go of the lease only for its holder. KEYS: the lock. ARGV: holder. */
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

export interface LeaderLockOptions {
  redis: RedisClient
  key: string
  /** Who holds it: unique per process. */
  holder: string
  /** The lease: a holder that stops renewing loses it after this long. */
  leaseMs: number
  now?: () => number
  onChange?: (leading: boolean) => void
}

/**
 * One decider among any number of processes: an expiring Redis key that the
 * holder renews every third of its lease. A holder that dies stops renewing,
 * and another process takes the key within one lease. A holder that cannot
 * reach Redis counts itself out once its lease may have run out, so two
 * processes never both believe they lead.
 */
export class LeaderLock {
  readonly #options: LeaderLockOptions
  readonly #now: () => number
  #leading = false
  #heldUntil = 0

  constructor (options: LeaderLockOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /** True while this process holds an unexpired lease. */
  get leading (): boolean {
    if (this.#leading && this.#now() >= this.#heldUntil) this.#setLeading(false)

    return this.#leading
  }

  /** Takes or renews the lease; call it every third of the lease. */
  async refresh (): Promise<boolean> {
    const { redis, key, holder, leaseMs } = this.#options
    const startedAt = this.#now()
    try {
      const held = this.#leading
        ? await redis.eval(renewScript, 1, key, holder, leaseMs) === 1
        : await redis.set(key, holder, 'PX', leaseMs, 'NX') === 'OK'
      // The lease counts from before the command was sent: never longer than Redis holds it.
      if (held) this.#heldUntil = startedAt + leaseMs
      this.#setLeading(held)
    } catch {
      // Unreachable Redis: still leading only until the lease may have run out.
      this.#setLeading(this.#leading && this.#now() < this.#heldUntil)
    }

    return this.#leading
  }

  /** Gives the lease up at once, so another process need not wait for it to expire. */
  async release (): Promise<void> {
    if (!this.#leading) return

    this.#setLeading(false)
    await this.#options.redis.eval(releaseScript, 1, this.#options.key, this.#options.holder).catch(() => {})
  }

  #setLeading (leading: boolean): void {
    if (leading === this.#leading) return

    this.#leading = leading
    this.#options.onChange?.(leading)
  }
}
