import { hostname } from 'node:os'
import type { Registry } from 'prom-client'
import type { Config, ShadowConfig } from '../config/schema.js'
import type { Keys } from '../store/keys.js'
import type { Logger } from '../telemetry/logger.js'
import { LoopPressure } from './loop-pressure.js'
import { PairBatcher } from './pair-batcher.js'
import { pairCommandTimeoutMs, PairQueue } from './pair-queue.js'
import { createShadowMetrics } from './shadow-metrics.js'
import { ShadowMirror, type PairSink } from './shadow-mirror.js'
import type { RateChange } from './mirror-policy.js'
import { clearShadowGuards, writeShadowGuard } from '../store/shadow-guard.js'

export interface ShadowTraffic {
  mirror: ShadowMirror
  batcher: PairBatcher
  close: () => Promise<void>
}

/**
 * Replaces where finished pairs go, for benchmarks that measure the
 * batched queue against other designs. Production leaves it unset.
 */
export type PairSinkFactory = (defaultSink: PairSink) => PairSink

export interface ShadowTrafficOptions {
  redisUrl: string
  keys: Keys
  registry: Registry
  logger: Logger
  createSink?: PairSinkFactory
}

/** How long shutdown waits for the last batches to reach Redis. */
const drainMs = 2_000

/**
 * The most bodies one pair's record holds: the baseline's and the
 * candidate's, and either the baseline's repeat (safe methods) or the
 * request's body (a mirrored unsafe method).
 */
const maxBodiesPerPair = 3

/**
 * Wires the shadow side of one gateway: the mirror the live path calls, the
 * batcher that gathers pairs, and the queue they are written to. Undefined
 * when no route mirrors anything.
 */
export async function startShadowTraffic (config: Readonly<Config>, options: ShadowTrafficOptions): Promise<ShadowTraffic | undefined> {
  if (!config.routes.some((route) => route.mirror !== undefined)) return undefined

  const logger = options.logger.child({ side: 'shadow' })
  warnOfSmallPendingBound(config.shadow, logger)
  const metrics = createShadowMetrics(options.registry)
  const queue = new PairQueue({ keys: options.keys, config: config.shadow, logger, onDepth: (depth) => metrics.queueDepth.set(depth) })
  const batcher = new PairBatcher(queue, config.shadow, {
    onEnqueued: (routes) => { for (const route of routes) metrics.enqueued.inc({ route }) },
    onDropped: (route, reason) => metrics.dropped.inc({ route, reason }),
    onPendingBytes: (bytes) => metrics.pendingBytes.set(bytes),
    onBytesSaved: (route, bytes) => metrics.bytesSaved.inc({ route }, bytes)
  }, logger, Date.now, {
    redisUrl: options.redisUrl,
    namespace: options.keys.namespace,
    retentionMs: config.shadow.retentionMs,
    commandTimeoutMs: pairCommandTimeoutMs
  })
  const gateway = `${hostname()}:${process.pid}`
  const onRateChange = (route: string, { factor, reason }: RateChange): void => {
    const redis = queue.redis
    if (redis?.status !== 'ready') return
    // Only for the report; a lost write is repaired by the next change.
    writeShadowGuard(redis, options.keys, route, { factor, reason, since: Date.now(), gateway }).catch(() => {})
  }
  const sink = options.createSink?.(batcher) ?? batcher
  const pressure = new LoopPressure(config.shadow.maxLoopBusy)
  const mirror = new ShadowMirror({ routes: config.routes, maxBodyBytes: config.shadow.maxBodyBytes, sink, metrics, logger, onRateChange, pressure })
  await Promise.all([queue.start(options.redisUrl), batcher.start()])

  return {
    mirror,
    batcher,
    close: async () => {
      pressure.close()
      await batcher.drain(drainMs)
      await batcher.close()
      // A gateway that stops without saying so (killed) fades from the
      // report after an hour (route-report.ts); this one says so, unless
      // Redis is away, which would hold shutdown for the command timeout.
      if (queue.redis !== undefined && queue.state() !== 'redis-unreachable') {
        const mirrored = config.routes.filter((route) => route.mirror !== undefined).map((route) => route.name)
        await clearShadowGuards(queue.redis, options.keys, mirrored, gateway).catch(() => {})
      }
      await queue.close()
      await mirror.close()
    }
  }
}

/**
 * A bound that cannot hold one pair of bodies at the cap is allowed (tests
 * and small deployments use one), but said at start: such pairs are
 * dropped one by one later, each after its shadow request.
 */
function warnOfSmallPendingBound (shadow: ShadowConfig, logger: Logger): void {
  const { maxPendingBytes, maxBodyBytes } = shadow
  if (maxPendingBytes >= maxBodiesPerPair * maxBodyBytes) return

  logger.warn({ maxPendingBytes, maxBodyBytes },
    `shadow.maxPendingBytes (${maxPendingBytes} bytes) is less than ${maxBodiesPerPair} bodies of shadow.maxBodyBytes ` +
    `(${maxBodyBytes} bytes): a pair with bodies near that cap will be dropped as larger-than-pending-bound; ` +
    'raise shadow.maxPendingBytes or lower shadow.maxBodyBytes')
}
