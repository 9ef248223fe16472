import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Config, RouteConfig } from '../config/schema.js'
import { compareSchema } from '../config/compare-schema.js'
import { compileRules } from '../diff/rules.js'
import { decodeBatchParts, PairDecodeError } from '../shadow/pair-codec.js'
import type { Pair } from '../shadow/pair.js'
import type { PairBatchJob } from '../shadow/pair-queue.js'
import { readNoiseModel, recordPairs, type PairRecord } from '../store/diff-aggregates.js'
import { readIgnoreRules } from '../store/ignore-rules.js'
import { createKeys, type Keys } from '../store/keys.js'
import { connectRedis, type RedisClient } from '../store/redis-connection.js'
import type { Logger } from '../telemetry/logger.js'
import { describeExample, judgePair, type RouteJudgement } from './pair-judge.js'

/** A route's rules and noise model are read again this often, so accepted rules and new noise apply. */
const defaultRefreshMs = 5_000
/** At most one example per route, path and kind this often per worker: examples are for reading, not counting. */
const exampleEveryMs = 10_000
/**
 * A batch whose worker died is taken over after its lock expires; this
 * many takeovers before it is failed. Generous, because losing a worker is
 * an expected event and the batch is counted once whatever happens.
 */
const maxStalledCount = 10

export interface PairWorkerOptions {
  config: Readonly<Config>
  redisUrl: string
  logger: Logger
  registry: Registry
  /** How often a route's noise model and accepted rules are read again (ms). */
  refreshMs?: number
  now?: () => number
}

interface CachedJudgement extends RouteJudgement {
  readAt: number
}

/**
 * A diff worker: takes batches of pairs from the queue, judges each pair
 * under its route's rules and noise, and adds the verdicts to the route's
 * figures in Redis, once per batch however often the batch is retried.
 */
export class PairWorker {
  readonly #options: PairWorkerOptions
  readonly #keys: Keys
  readonly #routes: Map<string, RouteConfig>
  readonly #judgements = new Map<string, CachedJudgement>()
  readonly #examplesAt = new Map<string, number>()
  readonly #metrics: ReturnType<typeof createWorkerMetrics>
  readonly #now: () => number
  #redis: RedisClient | undefined
  #worker: Worker<PairBatchJob> | undefined
  /** Redis is away and that was said: BullMQ reports every failed retry, and one line is enough. */
  #outageLogged = false

  constructor (options: PairWorkerOptions) {
    this.#options = options
    this.#keys = createKeys(options.config.redis.namespace)
    this.#routes = new Map(options.config.routes.map((route) => [route.name, route]))
    this.#metrics = createWorkerMetrics(options.registry)
    this.#now = options.now ?? Date.now
  }

  start (): void {
    // A worker waits for jobs with blocking commands, which want commands
    // retried across reconnects rather than failed.
    this.#redis = connectRedis(this.#options.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true, connectionName: 'shadowramp-worker' })
    this.#redis.on('error', () => {})
    this.#redis.on('ready', () => {
      if (!this.#outageLogged) return
      this.#outageLogged = false
      this.#options.logger.info('diff worker reached Redis again')
    })
    this.#worker = new Worker<PairBatchJob>(this.#keys.pairQueue, async (job) => await this.#processBatch(job), {
      connection: this.#redis,
      prefix: this.#keys.queuePrefix,
      concurrency: this.#options.config.worker.concurrency,
      lockDuration: this.#options.config.worker.lockMs,
      stalledInterval: this.#options.config.worker.lockMs,
      maxStalledCount
    })
    this.#worker.on('failed', (job, error) => {
      this.#metrics.batches.inc({ outcome: 'failed' })
      this.#options.logger.error({ err: error, batch: job?.id, attempts: job?.attemptsMade }, 'batch of pairs failed')
    })
    this.#worker.on('error', (error) => { this.#reportError(error) })
  }

  /**
   * While Redis is away BullMQ reports each attempt to reach it, several
   * a second: the outage is logged when it begins and when it ends, as
   * the gateway does. Errors with Redis reachable are each logged.
   */
  #reportError (error: Error): void {
    if (this.#redis?.status === 'ready') {
      this.#options.logger.warn({ err: error }, 'diff worker error')
      return
    }
    if (this.#outageLogged) return

    this.#outageLogged = true
    this.#options.logger.warn({ err: error }, 'diff worker lost its connection to Redis; it takes no pairs until Redis answers again')
  }

  /** Finishes the batches in hand, takes no more, and disconnects. */
  async close (): Promise<void> {
    await this.#worker?.close()
    this.#redis?.disconnect()
  }

  async #processBatch (job: Job<PairBatchJob>): Promise<void> {
    const redis = this.#redis as RedisClient
    const encoded = await readBatch(redis, job.data.batchKey)
    if (encoded === null) {
      // Counted already and cleaned up by an earlier attempt, expired
      // unread, or deleted by a gateway that gave up on writing it (its
      // pairs counted as dropped there) while the job was still added.
      this.#metrics.batches.inc({ outcome: 'missing' })
      this.#options.logger.warn({ batch: job.id, pairs: job.data.pairs }, 'batch of pairs not found: already counted, expired, or given up by the gateway')
      return
    }

    const pairs = decodePairs([encoded])
    for (const [route, routePairs] of groupByRoute(pairs)) {
      const records = await this.#judgeRoute(route, routePairs)
      await recordPairs(redis, this.#keys, route, job.id ?? job.data.batchKey, records)
    }
    await redis.unlink(job.data.batchKey)
    this.#metrics.batches.inc({ outcome: 'counted' })
  }

  async #judgeRoute (route: string, pairs: Pair[]): Promise<PairRecord[]> {
    const judgement = await this.#judgementFor(route)
    const records: PairRecord[] = []
    const verdicts = new Map<string, number>()
    for (const pair of pairs) {
      const started = performance.now()
      const { verdict, record } = judgePair(pair, judgement)
      if (this.#wantsExample(route, record)) record.example = describeExample(pair, verdict, judgement.rules)
      this.#metrics.pairSeconds.observe((performance.now() - started) / 1_000)
      verdicts.set(record.verdict, (verdicts.get(record.verdict) ?? 0) + 1)
      records.push(record)
    }
    for (const [verdict, count] of verdicts) this.#metrics.pairs.inc({ route, verdict }, count)

    return records
  }

  #wantsExample (route: string, record: PairRecord): boolean {
    if (record.verdict !== 'diverging' && record.verdict !== 'status-mismatch') return false

    const now = this.#now()
    let wanted = false
    for (const { path, kind } of record.differences) {
      const key = `${route}\u0000${kind}\u0000${path}`
      if (now - (this.#examplesAt.get(key) ?? -Infinity) < exampleEveryMs) continue
      this.#examplesAt.set(key, now)
      wanted = true
    }
    if (record.verdict === 'status-mismatch' && record.differences.length === 0) wanted = true

    return wanted
  }

  async #judgementFor (route: string): Promise<RouteJudgement> {
    const cached = this.#judgements.get(route)
    if (cached !== undefined && this.#now() - cached.readAt < (this.#options.refreshMs ?? defaultRefreshMs)) return cached

    const redis = this.#redis as RedisClient
    const [noise, decisions] = await Promise.all([readNoiseModel(redis, this.#keys, route), readIgnoreRules(redis, this.#keys, route)])
    const configured = this.#routes.get(route)?.compare ?? compareSchema.parse({})
    const accepted = decisions.filter((decision) => decision.decision === 'accepted')
    const rules = compileRules({
      ...configured,
      ignorePaths: [...configured.ignorePaths, ...accepted.filter((d) => d.rule === 'ignorePaths').map((d) => d.pattern)],
      ignoreHeaders: [...configured.ignoreHeaders, ...accepted.filter((d) => d.rule === 'ignoreHeaders').map((d) => d.pattern)]
    })
    const judgement = { rules, noise, readAt: this.#now() }
    this.#judgements.set(route, judgement)

    return judgement
  }
}

/**
 * The batch a job points at, null when it is gone. A batch of an earlier
 * version, stored as a list, fails at once: no retry would read it.
 */
async function readBatch (redis: RedisClient, batchKey: string): Promise<Buffer | null> {
  try {
    return await redis.getBuffer(batchKey)
  } catch (error) {
    if (!(error as Error).message?.startsWith('WRONGTYPE')) throw error
    throw new UnrecoverableError(`batch of pairs is damaged: ${batchKey} is not a string, as gateways of this version write it ` +
      '(gateways of an earlier version wrote lists: let workers of that version empty the queue before an upgrade)')
  }
}

/** A batch that cannot be decoded will not decode on a retry either: it fails at once, with its error. */
function decodePairs (encoded: Buffer[]): Pair[] {
  try {
    return decodeBatchParts(encoded)
  } catch (error) {
    if (error instanceof PairDecodeError) throw new UnrecoverableError(`batch of pairs is damaged: ${error.message}`)
    throw error
  }
}

function groupByRoute (pairs: Pair[]): Map<string, Pair[]> {
  const groups = new Map<string, Pair[]>()
  for (const pair of pairs) {
    const group = groups.get(pair.route)
    if (group === undefined) groups.set(pair.route, [pair])
    else group.push(pair)
  }

  return groups
}

function createWorkerMetrics (registry: Registry) {
  const registers = [registry]

  return {
    pairs: new Counter({ name: 'shadowramp_worker_pairs_total', help: 'Pairs judged, by route and verdict.', labelNames: ['route', 'verdict'], registers }),
    batches: new Counter({ name: 'shadowramp_worker_batches_total', help: 'Batches of pairs taken from the queue, by outcome.', labelNames: ['outcome'], registers }),
    pairSeconds: new Histogram({
      name: 'shadowramp_worker_pair_seconds',
      help: 'Time to judge one pair: decode, normalize, compare.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers
    })
  }
}
