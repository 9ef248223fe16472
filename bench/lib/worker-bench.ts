import { configSchema, type ShadowConfig } from '../../src/config/schema.js'
import { createLogger } from '../../src/telemetry/logger.js'
import type { WorkerBench } from './backlog-drain.js'
import { addCleanup, once } from './cleanup-tasks.js'
import { buildFeedPairBodies } from './feed-pairs.js'
import { PairProducer } from './pair-producer.js'
import { PairQueueWatch } from './pair-queue-watch.js'
import { createBenchNamespace, dropBenchNamespace } from './redis-namespace.js'
import { requireRedisLoopback } from './worker-process.js'

export interface OpenedWorkerBench {
  bench: WorkerBench
  /** Closes the producer and the watch and drops the namespace; safe to call twice. */
  close: () => Promise<void>
}

/**
 * What drainBacklog needs, on a Redis the caller chose: a namespace of its
 * own (dropped however the run ends), a producer enqueueing realistic feed
 * pairs as a gateway does, and a watch on the route's queue and figures.
 */
export async function openWorkerBench (redisUrl: string, route: string, variants = 256): Promise<OpenedWorkerBench> {
  requireRedisLoopback(redisUrl)
  const namespace = createBenchNamespace()
  const dropNamespace = once(async () => { await dropBenchNamespace(redisUrl, namespace) })
  const forget = addCleanup(dropNamespace)

  const logger = createLogger({ level: 'warn', destination: process.stderr })
  const bodies = buildFeedPairBodies(variants)
  const shadow = benchShadowConfig(route)
  const producer = await PairProducer.start({ redisUrl, namespace, route, bodies, shadow, logger })
  const watch = new PairQueueWatch(redisUrl, namespace, route)
  const close = once(async () => {
    await producer.close()
    await watch.close()
    await dropNamespace()
    forget()
  })

  return { bench: { redisUrl, namespace, route, producer, watch }, close }
}

/**
 * The gateway's defaults (batches of 64 pairs or 20 ms), except that a
 * batch's bodies expire after 10 minutes: a run killed with SIGKILL must
 * not leave hundreds of MB in Redis for a day.
 */
function benchShadowConfig (route: string): ShadowConfig {
  const backend = { url: 'http://127.0.0.1:9' }
  const routes = [{ name: route, paths: ['/feed'], baseline: backend, candidate: backend }]

  return configSchema.parse({ routes, shadow: { retentionMs: 600_000 } }).shadow
}
