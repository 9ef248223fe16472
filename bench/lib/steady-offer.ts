import { requireIdleQueue, startWorkers, type WorkerBench } from './backlog-drain.js'
import type { OfferResult } from './pair-producer.js'
import type { PairQueueWatch } from './pair-queue-watch.js'
import type { ProcessLogSummary } from './process-log.js'
import { median } from './latency-stats.js'
import { readCpuMs } from './process-usage.js'
import { readMainThreadSchedule, scheduleBetween, type ThreadSchedule } from './thread-schedule.js'

export interface SteadyOptions {
  ratePerSecond: number
  durationMs: number
  /** How often the queue's depth is read. */
  sampleEveryMs: number
  flat: FlatRule
}

/** What "the queue stays flat" means, in numbers. */
export interface FlatRule {
  /** Batches waiting at the last reading, at most. */
  endBatches: number
  /** Trend of the depth over the phase (see fitTrend), at most, in batches per second. */
  slopePerSecond: number
}

export interface DepthSample {
  atMs: number
  depth: number
}

export interface DepthVerdict {
  start: number
  max: number
  end: number
  mean: number
  slopePerSecond: number
  dropped: number
  flat: boolean
}

export interface SteadyFigures {
  ratePerSecond: number
  offer: OfferResult
  samples: DepthSample[]
  depth: DepthVerdict
  /** Pairs the route's figures gained; equals offer.enqueued when nothing was lost. */
  counted: number
  /** From the last pair offered until the figures held every pair. */
  drainMs: number
  /**
   * Share of one core each process used while pairs were offered; Redis's
   * counts whatever else uses it.
   */
  cpuShare: { worker: number, producer: number, redis: number }
  /** The worker's main thread while pairs were offered, as shares of the wall time. */
  workerMainThread: { running: number, waitingForCore: number }
  exitCode: number | null
  log: ProcessLogSummary
}

/**
 * One fresh worker takes pairs offered at a fixed rate while the queue's
 * depth is read at a fixed interval. Afterwards the route's figures must
 * hold every pair that reached the queue.
 */
export async function offerSteadily (
  bench: WorkerBench, options: SteadyOptions
): Promise<SteadyFigures> {
  await requireIdleQueue(bench.watch)
  const countedBefore = await bench.watch.countedPairs()
  const [worker] = await startWorkers(bench, 1)
  if (worker === undefined) throw new Error('no worker started')

  try {
    const before = await readUsage(bench, worker.pid)
    const sampler = sampleDepth(bench.watch, options.sampleEveryMs)
    const { ratePerSecond, durationMs } = options
    const offer = await bench.producer.offerAtRate(ratePerSecond, durationMs, 'steady')
    const samples = await sampler.stop()
    const after = await readUsage(bench, worker.pid)
    const { cpuShare, workerMainThread } = compareUsage(before, after, offer.elapsedMs)

    const drainStarted = performance.now()
    const expected = countedBefore + offer.enqueued
    const counted = (await bench.watch.waitForCounted(expected, 15_000)) - countedBefore
    const drainMs = performance.now() - drainStarted
    const exitCode = await worker.stop()
    const depth = judgeDepth(samples, offer, options.flat)

    return {
      ratePerSecond,
      offer,
      samples,
      depth,
      counted,
      drainMs,
      cpuShare,
      workerMainThread,
      exitCode,
      log: worker.log()
    }
  } finally {
    await worker.stop()
  }
}

interface Usage {
  workerCpuMs: number
  producerCpuMs: number
  redisCpuMs: number
  workerMainThread: ThreadSchedule | undefined
}

/** The producer is this process: it encodes and writes every pair, as a gateway would. */
async function readUsage (bench: WorkerBench, workerPid: number): Promise<Usage> {
  return {
    workerCpuMs: readCpuMs(workerPid) ?? Number.NaN,
    producerCpuMs: readCpuMs(process.pid) ?? Number.NaN,
    redisCpuMs: await bench.watch.redisCpuMs(),
    workerMainThread: readMainThreadSchedule(workerPid)
  }
}

function compareUsage (
  before: Usage, after: Usage, elapsedMs: number
): Pick<SteadyFigures, 'cpuShare' | 'workerMainThread'> {
  const mainThread = scheduleBetween(before.workerMainThread, after.workerMainThread)
  const running = mainThread.runningMs / elapsedMs

  return {
    cpuShare: {
      worker: (after.workerCpuMs - before.workerCpuMs) / elapsedMs,
      producer: (after.producerCpuMs - before.producerCpuMs) / elapsedMs,
      redis: (after.redisCpuMs - before.redisCpuMs) / elapsedMs
    },
    workerMainThread: { running, waitingForCore: mainThread.waitingMs / elapsedMs }
  }
}

/** Reads the waiting count now and then at every interval until stopped; readings never overlap. */
function sampleDepth (
  watch: PairQueueWatch, everyMs: number
): { stop: () => Promise<DepthSample[]> } {
  const started = performance.now()
  const samples: DepthSample[] = []
  let reading: Promise<void> = Promise.resolve()
  const read = (): void => {
    reading = reading.then(async () => {
      const atMs = performance.now() - started
      samples.push({ atMs, depth: await watch.waitingBatches() })
    })
  }
  read()
  const timer = setInterval(read, everyMs)

  return {
    stop: async () => {
      clearInterval(timer)
      await reading
      return samples
    }
  }
}

/** Flat: few batches waiting at the end, no upward trend, and not a single pair dropped. */
function judgeDepth (samples: DepthSample[], offer: OfferResult, rule: FlatRule): DepthVerdict {
  const depths = samples.map((sample) => sample.depth)
  const end = depths[depths.length - 1] ?? Number.NaN
  const slopePerSecond = fitTrend(samples.map((sample) => [sample.atMs / 1_000, sample.depth]))
  const dropped = Object.values(offer.droppedByReason).reduce((sum, count) => sum + count, 0)

  return {
    start: depths[0] ?? Number.NaN,
    max: Math.max(...depths),
    end,
    mean: depths.reduce((sum, depth) => sum + depth, 0) / depths.length,
    slopePerSecond,
    dropped,
    flat: end <= rule.endBatches && slopePerSecond <= rule.slopePerSecond && dropped === 0
  }
}

/**
 * The median of the slopes between every two readings (Theil–Sen): a
 * queue that grows shows its growth rate, while one burst that drains
 * again (a pause of the worker, a GC) does not read as a trend, as it
 * would with a least-squares line.
 */
function fitTrend (points: Array<[number, number]>): number {
  const slopes: number[] = []
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const [x1, y1] = points[i] as [number, number]
      const [x2, y2] = points[j] as [number, number]
      if (x2 !== x1) slopes.push((y2 - y1) / (x2 - x1))
    }
  }

  return slopes.length === 0 ? 0 : median(slopes)
}
