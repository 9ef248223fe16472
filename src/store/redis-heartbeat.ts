import type { RedisClient } from './redis-connection.js'

/**
 * Time between two PINGs, in ms. A PING costs Redis a few microseconds;
 * once a second lets a silent Redis show within a few seconds.
 */
export const heartbeatIntervalMs = 1_000

/**
 * How long a PING may go unanswered before Redis counts as away, in ms.
 * Redis answers one in well under a millisecond; two seconds (arbitrary,
 * thousands of times that) is missed by a stopped process, a network that
 * drops packets without a word or a Redis held by a long script, and not
 * by the pauses of a loaded machine. With one PING a second, a Redis that
 * falls silent is reported within three seconds.
 */
export const heartbeatDeadlineMs = 2_000

export interface RedisHeartbeatOptions {
  /**
   * The connection to probe; the heartbeat neither opens nor closes it. A
   * `commandTimeout` on it shorter than the deadline would fail each PING
   * before the deadline says anything.
   */
  redis: RedisClient
  /**
   * Told when a PING goes past its deadline unanswered (false), and when a
   * PING answers after that (true). One PING waits at a time, so a silence
   * is told once; the outage is told again only after the connection was
   * replaced and a PING on the new one went unanswered too.
   */
  onChange: (answering: boolean) => void
  /** Time between PINGs, in ms; default `heartbeatIntervalMs`. */
  intervalMs?: number
  /** How long one PING may wait for its answer, in ms; default `heartbeatDeadlineMs`. */
  deadlineMs?: number
}

/**
 * Sends a PING on a connection at a steady pace and says when Redis stops
 * answering and when it answers again. A stopped Redis, or a network that
 * drops packets silently, leaves the TCP connection open: ioredis stays
 * 'ready', commands are written and never answered, and no connection
 * event ever fires. Only a question with a deadline notices.
 *
 * One PING at a time: while one waits, the ticks send nothing, so a long
 * silence leaves a single PING behind rather than one per second, and its
 * late answer is what says that Redis is back.
 */
export class RedisHeartbeat {
  readonly #redis: RedisClient
  readonly #onChange: (answering: boolean) => void
  readonly #intervalMs: number
  readonly #deadlineMs: number
  #ticker: NodeJS.Timeout | undefined
  #deadline: NodeJS.Timeout | undefined
  #waiting = false
  #silent = false
  #stopped = false

  constructor (options: RedisHeartbeatOptions) {
    this.#redis = options.redis
    this.#onChange = options.onChange
    this.#intervalMs = options.intervalMs ?? heartbeatIntervalMs
    this.#deadlineMs = options.deadlineMs ?? heartbeatDeadlineMs
  }

  start (): void {
    this.#ticker = setInterval(() => this.#probe(), this.#intervalMs)
    this.#ticker.unref()
  }

  /**
   * Sends no more PINGs, and says nothing of the one that may still wait:
   * its answer can come after the owner has moved on.
   */
  stop (): void {
    this.#stopped = true
    clearInterval(this.#ticker)
    clearTimeout(this.#deadline)
  }

  #probe (): void {
    // A connection that is not ready has told its own story through its
    // events, and with commands failing fast a PING on it says nothing.
    if (this.#waiting || this.#redis.status !== 'ready') return

    this.#waiting = true
    this.#deadline = setTimeout(() => this.#reportSilence(), this.#deadlineMs)
    this.#deadline.unref()
    // A PING that fails outright went with its connection, whose own
    // events report that: it says nothing here.
    this.#redis.ping().then(() => this.#reportAnswer(), () => {}).finally(() => this.#settle())
  }

  #settle (): void {
    clearTimeout(this.#deadline)
    this.#waiting = false
  }

  #reportSilence (): void {
    this.#silent = true
    this.#onChange(false)
  }

  #reportAnswer (): void {
    if (this.#stopped || !this.#silent) return

    this.#silent = false
    this.#onChange(true)
  }
}
