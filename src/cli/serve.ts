import type { ChildProcess } from 'node:child_process'
import type { AddressInfo, Server } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildAdminServer } from '../admin/admin-server.js'
import type { Config } from '../config/schema.js'
import { SR_ERR_LISTEN } from '../errors.js'
import { buildGateway } from '../gateway/gateway.js'
import { LiveCounter } from '../gateway/live-counter.js'
import { LiveFlusher } from '../gateway/live-flusher.js'
import { startShadowTraffic, type PairSinkFactory } from '../shadow/shadow-traffic.js'
import { PairWorker } from '../worker/pair-worker.js'
import { RolloutController } from '../rollout/controller.js'
import { createWebhookNotifier } from '../rollout/notifier.js'
import { createKeys } from '../store/keys.js'
import { resolveRedis } from '../store/redis-bootstrap.js'
import { RolloutWatcher } from '../store/rollout-watcher.js'
import type { Logger } from '../telemetry/logger.js'
import { createGatewayMetrics, createRegistry } from '../telemetry/metrics.js'

export interface ServeOptions {
  config: Readonly<Config>
  logger: Logger
  /** Redis URL given explicitly (REDIS_URL or the file); otherwise one is found or started. */
  redisUrl?: string | undefined
  logRequests?: boolean
  /** Where finished pairs go instead of the batched queue; for benchmarks. */
  createPairSink?: PairSinkFactory
}

export interface RunningShadowramp {
  gatewayUrl: string
  /** The public listener's server, for connection counts. */
  gatewayServer: Server
  adminUrl: string
  redisUrl: string
  watcher: RolloutWatcher
  close: () => Promise<void>
}

/**
 * Wires one shadowramp process together: Redis, the rollout watcher, the
 * public gateway and the admin listener. The gateway sees the watcher only
 * as a source of percentages.
 */
export async function startShadowramp (options: ServeOptions): Promise<RunningShadowramp> {
  const { config, logger } = options
  const redis = await resolveRedis(options.redisUrl ?? config.redis.url, logger)
  const registry = createRegistry()
  const metrics = createGatewayMetrics(registry)
  const watcher = createWatcher(config, redis.url, logger, metrics)
  let accepting = true

  await watcher.start()
  metrics.redisUp.set(watcher.health().reachable ? 1 : 0)
  const shadow = await startShadowTraffic(config, { redisUrl: redis.url, keys: createKeys(config.redis.namespace), registry, logger, createSink: options.createPairSink })
  const counter = new LiveCounter()
  const flusher = new LiveFlusher(counter, createKeys(config.redis.namespace))
  flusher.start(redis.url)
  const gateway = buildGateway({ config, percentages: watcher, metrics, logger, logRequests: options.logRequests ?? config.log.requests, mirror: shadow?.mirror, counter })
  const admin = buildAdminServer({
    logger,
    registry,
    readiness: () => ({ accepting, redis: watcher.health(), percentages: Object.fromEntries(watcher.percentages()) }),
    config,
    redisUrl: redis.url
  })

  const worker = config.worker.inProcess ? new PairWorker({ config, redisUrl: redis.url, logger, registry }) : undefined
  const controller = config.controller.enabled ? createController(config, redis.url, logger) : undefined
  const close = async (): Promise<void> => {
    accepting = false
    await gateway.close()
    await flusher.close()
    await shadow?.close()
    await worker?.close()
    await controller?.close()
    await admin.close()
    await watcher.close()
    stopPrivateRedis(redis.privateServer)
  }

  try {
    await listenOn(gateway, config.listen)
    await listenOn(admin, config.admin.listen)
  } catch (error) {
    await close()
    throw error
  }
  // Started once serving is certain: a BullMQ worker closed right after it
  // started leaves its stalled-job timer running for a whole lock period.
  worker?.start()
  await controller?.start()

  return {
    gatewayUrl: listeningUrl(gateway),
    gatewayServer: gateway.server,
    adminUrl: listeningUrl(admin),
    redisUrl: redis.url,
    watcher,
    close
  }
}

function createController (config: Readonly<Config>, redisUrl: string, logger: Logger): RolloutController {
  const notifier = createWebhookNotifier(config.notifications.webhookUrl, config.notifications.timeoutMs, logger)

  return new RolloutController({ config, redisUrl, keys: createKeys(config.redis.namespace), logger: logger.child({ part: 'controller' }), notifier })
}

function createWatcher (config: Readonly<Config>, redisUrl: string, logger: Logger, metrics: ReturnType<typeof createGatewayMetrics>): RolloutWatcher {
  const initial = new Map(config.routes.map((route) => [route.name, route.percentage]))
  for (const [route, percentage] of initial) metrics.percentage.set({ route }, percentage)

  return new RolloutWatcher({
    redisUrl,
    keys: createKeys(config.redis.namespace),
    initial,
    rereadMs: config.redis.rereadMs,
    logger,
    onPercentage: (route, percentage) => metrics.percentage.set({ route }, percentage),
    onRedisState: (reachable) => metrics.redisUp.set(reachable ? 1 : 0)
  })
}

/** Listens, turning the usual failures into one clear line. */
export async function listenOn (app: FastifyInstance, address: { host: string, port: number }): Promise<void> {
  try {
    await app.listen({ host: address.host, port: address.port })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'EADDRINUSE' ? 'another process uses that address' : code === 'EACCES' ? 'permission denied' : (error as Error).message
    throw new SR_ERR_LISTEN(`${address.host}:${address.port}`, why, { cause: error })
  }
}

export function listeningUrl (app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address

  return `http://${host}:${address.port}`
}

function stopPrivateRedis (server: ChildProcess | undefined): void {
  server?.kill('SIGTERM')
}
