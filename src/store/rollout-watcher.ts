import type { RedisClient } from './redis-connection.js'
import type { Logger } from '../telemetry/logger.js'
import type { Keys } from './keys.js'
import { connectRedis, waitUntilReady } from './redis-connection.js'
import { heartbeatDeadlineMs, RedisHeartbeat } from './redis-heartbeat.js'
import { readRolloutState, readRolloutStates, seedRolloutStates, type SeedOrigin } from './rollout-store.js'

/** What a percentage put back into a Redis that lost it says about itself. */
const restoredOrigin: SeedOrigin = {
  actor: 'gateway',
  reason: 'restored: the percentage the gateways were serving when Redis came back without it'
}

export interface RolloutWatcherOptions {
  redisUrl: string
  keys: Keys
  /** Percentages to serve with until Redis says otherwise (from configuration). */
  initial: Map<string, number>
  /** Full re-read period, the safety net under pub/sub. */
  rereadMs: number
  logger: Logger
  /** How long start() waits for Redis before serving with the initial percentages. */
  startWaitMs?: number
  onPercentage?: (route: string, percentage: number) => void
  onRedisState?: (reachable: boolean) => void
}

export interface RedisHealth {
  reachable: boolean
  /** Since when (epoch ms) Redis has been in this state. */
  since: number
  lastSyncAt: number | undefined
}

/**
 * Keeps every route's percentage in memory, in step with Redis: a change is
 * announced on a channel and re-read at once; a full re-read runs
 * periodically in case a message was lost. While Redis is away the last
 * percentages known keep serving, and the outage is logged once.
 *
 * Redis is away when the command connection is lost, or when it stays open
 * and Redis does not answer its heartbeat's PING in time (a stopped
 * process, a network dropping packets): both read the same in health(),
 * on /readyz and in the log.
 */
export class RolloutWatcher {
  readonly #options: RolloutWatcherOptions
  readonly #percentages: Map<string, number>
  #commands: RedisClient | undefined
  #subscriber: RedisClient | undefined
  #heartbeat: RedisHeartbeat | undefined
  #timer: NodeJS.Timeout | undefined
  #reachable = false
  #since = Date.now()
  #lastSyncAt: number | undefined
  #closed = false
  #everReachable = false

  constructor (options: RolloutWatcherOptions) {
    this.#options = options
    this.#percentages = new Map(options.initial)
  }

  percentageOf (route: string): number {
    return this.#percentages.get(route) ?? 0
  }

  percentages (): ReadonlyMap<string, number> {
    return this.#percentages
  }

  health (): RedisHealth {
    return { reachable: this.#reachable, since: this.#since, lastSyncAt: this.#lastSyncAt }
  }

  async start (): Promise<void> {
    const { redisUrl, keys, rereadMs, startWaitMs = 1_000 } = this.#options
    this.#commands = connectRedis(redisUrl, { connectionName: 'shadowramp-rollout' })
    this.#subscriber = connectRedis(redisUrl, { connectionName: 'shadowramp-rollout-sub', enableOfflineQueue: true })

    this.#commands.on('ready', () => { this.#markReachable(true); void this.#syncAll() })
    this.#commands.on('close', () => this.#markReachable(false, 'connection lost'))
    this.#commands.on('error', () => this.#markReachable(false, 'connection lost'))
    const onChange = (answering: boolean): void => this.#followHeartbeat(answering)
    this.#heartbeat = new RedisHeartbeat({ redis: this.#commands, onChange })
    this.#heartbeat.start()
    this.#subscriber.on('error', () => {})
    this.#subscriber.on('message', (_channel: string, route: string) => { void this.#syncRoute(route) })
    void this.#subscriber.subscribe(keys.rolloutChanges).catch(() => {})

    this.#timer = setInterval(() => { void this.#syncAll() }, rereadMs)
    this.#timer.unref()

    if (await waitUntilReady(this.#commands, startWaitMs)) await this.#syncAll()
    if (!this.#reachable) this.#logOutage('no connection at start-up')
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#heartbeat?.stop()
    clearInterval(this.#timer)
    this.#commands?.disconnect()
    this.#subscriber?.disconnect()
  }

  async #syncAll (): Promise<void> {
    const redis = this.#commands
    // A silent Redis keeps the connection 'ready': syncs sent to it would
    // only wait, one more every re-read, until it wakes.
    if (redis === undefined || redis.status !== 'ready' || !this.#reachable) return

    try {
      // Routes Redis has lost (a flushed or replaced Redis) get back the
      // percentage this gateway was serving, not the configured one, and
      // say so; before the first sync that is the configured percentage.
      const origin = this.#lastSyncAt === undefined ? undefined : restoredOrigin
      await seedRolloutStates(redis, this.#options.keys, this.#percentages, Date.now(), origin)
      const states = await readRolloutStates(redis, this.#options.keys)
      for (const [route, state] of states) this.#apply(route, state.percentage)
      this.#lastSyncAt = Date.now()
    } catch {
      // The connection events report the outage; the next sync retries.
    }
  }

  async #syncRoute (route: string): Promise<void> {
    const redis = this.#commands
    if (redis === undefined || redis.status !== 'ready' || !this.#reachable || !this.#percentages.has(route)) return

    try {
      const state = await readRolloutState(redis, this.#options.keys, route)
      if (state !== undefined) this.#apply(route, state.percentage)
    } catch {
      // As above: the periodic sync is the safety net.
    }
  }

  #apply (route: string, percentage: number): void {
    if (!this.#percentages.has(route) || this.#percentages.get(route) === percentage) return

    const from = this.#percentages.get(route)
    this.#percentages.set(route, percentage)
    this.#options.logger.info({ route, from, to: percentage }, `percentage of ${route} from ${from} to ${percentage}`)
    this.#options.onPercentage?.(route, percentage)
  }

  /**
   * Redis answering again after a silence is followed by a full re-read:
   * changes announced meanwhile may never have reached the subscriber.
   */
  #followHeartbeat (answering: boolean): void {
    if (!answering) { this.#markReachable(false, `no answer to a ping within ${heartbeatDeadlineMs} ms`); return }

    this.#markReachable(true)
    void this.#syncAll()
  }

  #markReachable (reachable: boolean, reason?: string): void {
    if (this.#closed || reachable === this.#reachable) return

    this.#reachable = reachable
    this.#since = Date.now()
    this.#options.onRedisState?.(reachable)
    if (reachable) {
      this.#options.logger.info(this.#everReachable ? 'redis reachable again; following rollout state' : 'connected to redis; following rollout state')
      this.#everReachable = true
    } else {
      this.#logOutage(reason)
    }
  }

  #logOutage (reason: string | undefined): void {
    this.#options.logger.warn({ redisUrl: redactUrl(this.#options.redisUrl), reason },
      'redis unreachable; serving with the last percentages known')
  }
}

/** Hides the password part of a redis:// URL. */
export function redactUrl (url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//[redacted]@')
}
