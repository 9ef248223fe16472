import { setTimeout as sleep } from 'node:timers/promises'
import { defaultWorkerConcurrency } from '../../src/config/schema.js'
import type { PairProducer } from './pair-producer.js'
import type { Completion, PairQueueWatch } from './pair-queue-watch.js'
import type { ProcessLogSummary } from './process-log.js'
import { readCpuMs } from './process-usage.js'
import { readMainThreadSchedule, type ThreadSchedule } from './thread-schedule.js'
import { readWorkerMetrics, type WorkerMetricsSummary } from './worker-metrics.js'
import { startWorker, type RunningWorker, type WorkerOptions } from './worker-process.js'

/** Where the pairs go and how they are watched; one per benchmark run. */
export interface WorkerBench {
  redisUrl: string
  namespace: string
  route: string
  producer: PairProducer
  watch: PairQueueWatch
}

export interface BacklogOptions {
  pairs: number
  workers: number
  /** Batches each worker has in hand at once. Default: the worker's own default. */
  concurrency?: number
  /** Prefix of the pairs' ids; unique per backlog, since a batch id is never queued twice. */
  label: string
  /** Each worker writes a V8 CPU profile here when it exits. */
  cpuProfileDir?: string
}

/** A backlog drained by one or more worker processes. */
export interface BacklogFigures {
  workers: number
  concurrency: number
  pairs: number
  batches: number
  enqueueMs: number
  /** From BullMQ's completion times, after the first tenth of the batches. */
  pairsPerSecond: number
  windowPairs: number
  windowMs: number
  /** From the first spawn until the route's figures held every pair. */
  spawnToDrainedMs: number
  /**
   * CPU per pair of the worker processes (every thread) and of Redis,
   * between two readings of the figures.
   */
  workerCpuUsPerPair: number
  redisCpuUsPerPair: number
  /**
   * Each worker's main thread, where JavaScript runs, per pair: on a CPU,
   * ready but waiting for a core, and neither (waiting for Redis or idle).
   * The three add up to the workers' wall time over the same window.
   */
  mainThreadUsPerPair: { running: number, waitingForCore: number, blocked: number }
  /** The workers' own histogram: time judging, per pair judged (warm-up included). */
  judgeUsPerPair: number
  counted: number
  metrics: WorkerMetricsSummary[]
  exitCodes: Array<number | null>
  logs: ProcessLogSummary[]
}

/** The first tenth of a backlog's batches warms the worker up and is not timed. */
const warmUpShare = 0.1
const pollMs = 100

/**
 * Writes a backlog while no worker runs, starts the workers, and follows
 * the route's figures until they hold every pair. The rate comes from the
 * times BullMQ recorded as each batch finished.
 */
export async function drainBacklog (
  bench: WorkerBench, options: BacklogOptions
): Promise<BacklogFigures> {
  await requireIdleQueue(bench.watch)
  const since = await bench.watch.serverTimeMs()
  const countedBefore = await bench.watch.countedPairs()
  const backlog = await bench.producer.enqueueBacklog(options.pairs, options.label)

  const spawnedAt = performance.now()
  const concurrency = options.concurrency ?? defaultWorkerConcurrency
  const extra = { concurrency, cpuProfileDir: options.cpuProfileDir }
  const workers = await startWorkers(bench, options.workers, extra)
  let drain: DrainReading
  let metrics: WorkerMetricsSummary[]
  let exitCodes: Array<number | null> = []
  try {
    drain = await followDrain(bench.watch, workers, countedBefore, backlog.pairs)
    metrics = await Promise.all(workers.map(async (worker) =>
      await readWorkerMetrics(worker.metricsUrl)))
  } finally {
    exitCodes = await Promise.all(workers.map(async (worker) => await worker.stop()))
  }

  const completions = await readCompletions(bench.watch, since, backlog.batches)
  return {
    workers: options.workers,
    concurrency,
    pairs: backlog.pairs,
    batches: backlog.batches.size,
    enqueueMs: backlog.elapsedMs,
    ...rateFromCompletions(completions, backlog.batches),
    spawnToDrainedMs: drain.drainedAt - spawnedAt,
    workerCpuUsPerPair: (drain.workerCpuMs * 1_000) / drain.windowPairs,
    redisCpuUsPerPair: (drain.redisCpuMs * 1_000) / drain.windowPairs,
    mainThreadUsPerPair: describeMainThread(drain, options.workers),
    judgeUsPerPair: judgeUsPerPair(metrics),
    counted: drain.counted,
    metrics,
    exitCodes,
    logs: workers.map((worker) => worker.log())
  }
}

/** A measurement starts from an empty queue, or it would time someone else's batches. */
export async function requireIdleQueue (watch: PairQueueWatch): Promise<void> {
  const waiting = await watch.waitingBatches()
  if (waiting === 0) return

  throw new Error(`the queue holds ${waiting} batches before a measurement: a worker did not finish`)
}

/** Starts `count` workers at once; when one fails to start, the others are stopped. */
export async function startWorkers (
  bench: WorkerBench, count: number,
  extra: Pick<WorkerOptions, 'concurrency' | 'cpuProfileDir'> = {}
): Promise<RunningWorker[]> {
  const { redisUrl, namespace, route } = bench
  const options = { redisUrl, namespace, route, ...extra }
  const starting = Array.from({ length: count }, async () => await startWorker(options))
  const started = await Promise.allSettled(starting)
  const workers = started.flatMap((result) => result.status === 'fulfilled' ? [result.value] : [])
  const failed = started.find((result) => result.status === 'rejected')
  if (failed === undefined) return workers

  await Promise.all(workers.map(async (worker) => await worker.stop()))
  throw failed.reason
}

/** Two readings of the figures, CPU times between them, and when the last pair was counted. */
interface DrainReading {
  counted: number
  drainedAt: number
  windowPairs: number
  windowMs: number
  workerCpuMs: number
  redisCpuMs: number
  mainThread: ThreadSchedule
}

interface CpuReading {
  counted: number
  atMs: number
  workerCpuMs: number
  redisCpuMs: number
  mainThread: ThreadSchedule
}

/**
 * Polls the figures until they hold the whole backlog. CPU time is read
 * once a tenth of it is counted and again at the end, so start-up and the
 * JIT's warm-up stay out of the per-pair figures.
 */
async function followDrain (
  watch: PairQueueWatch, workers: RunningWorker[], countedBefore: number, pairs: number
): Promise<DrainReading> {
  const deadline = performance.now() + 60_000 + pairs * 2
  const readCpu = async (counted: number): Promise<CpuReading> => ({
    counted,
    atMs: performance.now(),
    workerCpuMs: workers.reduce((sum, worker) => sum + (readCpuMs(worker.pid) ?? Number.NaN), 0),
    mainThread: sumSchedules(workers.map((worker) => readMainThreadSchedule(worker.pid))),
    redisCpuMs: await watch.redisCpuMs()
  })
  let first: CpuReading | undefined
  let counted = 0
  while (counted < pairs) {
    await sleep(pollMs)
    requireRunning(workers, deadline)
    counted = (await watch.countedPairs()) - countedBefore
    if (first === undefined && counted >= pairs * warmUpShare) first = await readCpu(counted)
  }

  const last = await readCpu(counted)
  const start = first ?? last
  return {
    counted,
    drainedAt: performance.now(),
    windowPairs: last.counted - start.counted,
    windowMs: last.atMs - start.atMs,
    workerCpuMs: last.workerCpuMs - start.workerCpuMs,
    redisCpuMs: last.redisCpuMs - start.redisCpuMs,
    mainThread: {
      runningMs: last.mainThread.runningMs - start.mainThread.runningMs,
      waitingMs: last.mainThread.waitingMs - start.mainThread.waitingMs
    }
  }
}

function sumSchedules (schedules: Array<ThreadSchedule | undefined>): ThreadSchedule {
  return schedules.reduce<ThreadSchedule>((sum, schedule) => ({
    runningMs: sum.runningMs + (schedule?.runningMs ?? Number.NaN),
    waitingMs: sum.waitingMs + (schedule?.waitingMs ?? Number.NaN)
  }), { runningMs: 0, waitingMs: 0 })
}

function describeMainThread (
  drain: DrainReading, workers: number
): BacklogFigures['mainThreadUsPerPair'] {
  const perPair = (ms: number): number => (ms * 1_000) / drain.windowPairs
  const running = perPair(drain.mainThread.runningMs)
  const waitingForCore = perPair(drain.mainThread.waitingMs)
  const blocked = perPair(drain.windowMs * workers) - running - waitingForCore

  return { running, waitingForCore, blocked }
}

function requireRunning (workers: RunningWorker[], deadline: number): void {
  const gone = workers.find((worker) => worker.exited())
  if (gone !== undefined) {
    throw new Error(`a worker exited while draining; its last lines:\n${gone.logTail().join('\n')}`)
  }
  if (performance.now() > deadline) throw new Error('the workers did not drain the backlog in time')
}

/** A stopped worker has finished its last batch, so every completion is in the stream by now. */
async function readCompletions (
  watch: PairQueueWatch, since: number, batches: Map<string, number>
): Promise<Completion[]> {
  const recorded = await watch.completionsSince(since)
  const completions = recorded.filter((completion) => batches.has(completion.jobId))
  if (completions.length !== batches.size) {
    throw new Error(`${completions.length} of ${batches.size} batches were recorded as completed`)
  }

  return completions.sort((a, b) => a.atMs - b.atMs)
}

/**
 * Pairs per second between the completion of the first tenth of the
 * batches and that of the last. Completion times are Redis's, in ms, so
 * a window of a second or more is timed to a fraction of a percent.
 */
function rateFromCompletions (
  completions: Completion[], batches: Map<string, number>
): Pick<BacklogFigures, 'pairsPerSecond' | 'windowPairs' | 'windowMs'> {
  const skipped = Math.max(1, Math.ceil(completions.length * warmUpShare))
  const start = completions[skipped - 1]
  const end = completions[completions.length - 1]
  const timed = completions.slice(skipped)
  const windowPairs = timed.reduce((sum, { jobId }) => sum + (batches.get(jobId) ?? 0), 0)
  const windowMs = start === undefined || end === undefined ? Number.NaN : end.atMs - start.atMs
  const pairsPerSecond = windowMs > 0 ? (windowPairs * 1_000) / windowMs : Number.NaN

  return { pairsPerSecond, windowPairs, windowMs }
}

function judgeUsPerPair (metrics: WorkerMetricsSummary[]): number {
  const judged = metrics.reduce((sum, each) => sum + each.pairs, 0)
  const seconds = metrics.reduce((sum, each) => sum + each.judgeSeconds, 0)

  return (seconds * 1e6) / judged
}
