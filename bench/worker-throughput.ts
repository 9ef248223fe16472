/**
 * Worker throughput: how many pairs a diff worker process judges per
 * second, against the same judging in a tight loop in this process.
 *
 * Every round measures, in an order that alternates from round to round:
 * - in process, on this thread, over the same realistic pairs (the ~20 KB
 *   feed against its variant with five differences, item ids renamed per
 *   pair): JSON.parse of both bodies alone, then with deep-diff's diff,
 *   then with microdiff, then comparePair, then judgePair, the reference;
 * - one `shadowramp worker` process (its default concurrency) draining a backlog
 *   enqueued as a gateway would (PairBatcher + PairQueue, batches of 64),
 *   then two such processes draining another.
 * After the rounds, one worker takes pairs offered at half the capacity
 * one worker showed, while the queue's depth is read every 500 ms. The
 * table shows medians across rounds; the verdict reads the median of the
 * per-round ratios of one worker to judgePair.
 *
 *   node --initial-old-space-size=256 --import tsx bench/worker-throughput.ts [--quick] [--rounds 3]
 *     [--loop-ms 1500] [--pairs 4096] [--steady-seconds 20] [--variants 256]
 *     [--one-worker-only] [--profile]
 */
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { configSchema, type ShadowConfig } from '../src/config/schema.js'
import { resolveRedis } from '../src/store/redis-bootstrap.js'
import { createLogger, type Logger } from '../src/telemetry/logger.js'
import { readWhole, settingsOrExit } from './lib/bench-options.js'
import { drainBacklog, type BacklogFigures, type WorkerBench } from './lib/backlog-drain.js'
import { trackChild } from './lib/child-processes.js'
import { addCleanup, once } from './lib/cleanup-tasks.js'
import {
  createDifferLoops, loopNames, measureDifferLoop, preparePairs,
  type DifferLoop, type LoopFigures, type LoopName, type PreparedPair
} from './lib/differ-loops.js'
import { buildFeedPairBodies, type FeedPairBodies } from './lib/feed-pairs.js'
import { median } from './lib/latency-stats.js'
import { PairProducer } from './lib/pair-producer.js'
import { PairQueueWatch } from './lib/pair-queue-watch.js'
import { createBenchNamespace, dropBenchNamespace } from './lib/redis-namespace.js'
import { writeResults } from './lib/results-file.js'
import { runBench } from './lib/run-guard.js'
import { offerSteadily, type FlatRule, type SteadyFigures } from './lib/steady-offer.js'
import { formatNumber } from './lib/text-table.js'
import type { TimedLoopResult } from './lib/timed-loop.js'
import { requireRedisLoopback } from './lib/worker-process.js'
import { summarizeProfiles } from './lib/worker-profile.js'
import { printWorkerReport, type Profiled, type Round, type Summary } from './lib/worker-report.js'

interface Settings {
  rounds: number
  /** Length of each in-process loop. */
  loopMs: number
  warmUpMs: number
  /** Pairs in each backlog, a whole number of batches. */
  backlogPairs: number
  steadySeconds: number
  /** Distinct pairs built; loops and backlogs take them in turn. */
  variants: number
  twoWorkers: boolean
  profile: boolean
}

/** Everything a round needs, built once. */
interface Run {
  settings: Settings
  bench: WorkerBench
  loops: DifferLoop[]
  pairs: PreparedPair[]
}

const usage = 'usage: node --initial-old-space-size=256 --import tsx bench/worker-throughput.ts [--quick] [--rounds 3..15] ' +
  '[--loop-ms 300..10000] [--pairs 640..16384] [--steady-seconds 5..60] [--variants 16..1024] ' +
  '[--one-worker-only] [--profile]'
const route = 'feed'
const targetRatio = 0.8
const settleMs = 250
/**
 * A worker that keeps up leaves 0 or 1 batch waiting. Two batches of
 * growth over a 20 s phase is a trend of 0.1 batch/s. Both bounds are
 * judgement calls, not derived from anything.
 */
const flatRule: FlatRule = { endBatches: 2, slopePerSecond: 0.1 }
const depthEveryMs = 500
const busyWaitShare = 0.1

const settings = settingsOrExit(() => readSettings(process.argv.slice(2)), usage)
runBench(async () => await measureWorkerThroughput(settings), deadlineMs(settings))

async function measureWorkerThroughput (settings: Settings): Promise<void> {
  announcePlan(settings)
  const loadBefore = loadavg()
  const bodies = buildFeedPairBodies(settings.variants)
  const pairs = preparePairs(bodies, route, Date.now())
  const loops = createDifferLoops()
  await warmUpLoops(loops, pairs, settings)

  const run: Run = { settings, bench: await connect(bodies), loops, pairs }
  let rounds: Round[]
  let summary: Summary
  let steady: SteadyFigures
  let profiled: Profiled | undefined
  try {
    rounds = await measureRounds(run)
    summary = summarizeRounds(rounds)
    steady = await measureSteadyState(run, summary)
    profiled = await profileIfWanted(run, summary)
  } finally {
    await disconnect(run.bench)
  }

  const pairBytes = describeBytes(bodies)
  printWorkerReport({
    rounds, summary, steady, profiled, pairBytes, targetRatio, flatRule, busyWaitShare,
    variants: settings.variants,
    backlogPairs: settings.backlogPairs,
    twoWorkersSkipped: !settings.twoWorkers
  })
  await saveFigures({ settings, flatRule, loadBefore, pairBytes, rounds, summary, steady, profiled })
}

function readSettings (args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'loop-ms': { type: 'string' },
      pairs: { type: 'string' },
      'steady-seconds': { type: 'string' },
      variants: { type: 'string' },
      'one-worker-only': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false }
    }
  })
  const quick = values.quick === true
  const pairs = readWhole('--pairs', values.pairs, quick ? 2_048 : 4_096, 640, 16_384)

  return {
    rounds: readWhole('--rounds', values.rounds, 3, 3, 15),
    loopMs: readWhole('--loop-ms', values['loop-ms'], quick ? 500 : 1_500, 300, 10_000),
    warmUpMs: quick ? 300 : 600,
    backlogPairs: Math.ceil(pairs / 64) * 64,
    steadySeconds: readWhole('--steady-seconds', values['steady-seconds'], quick ? 8 : 20, 5, 60),
    variants: readWhole('--variants', values.variants, 256, 16, 1_024),
    twoWorkers: !quick && values['one-worker-only'] !== true,
    profile: values.profile === true
  }
}

/**
 * A rough plan: a backlog is written at about 6,000 pairs/s and drained
 * at about 2,000; a worker takes about a second to start and to stop.
 */
function plannedSeconds (settings: Settings): number {
  const backlog = settings.backlogPairs / 6_000 + settings.backlogPairs / 2_000 + 2
  const loops = (loopNames.length * settings.loopMs) / 1_000
  const perRound = loops + backlog * (settings.twoWorkers ? 2 : 1)
  const warmUp = (loopNames.length * settings.warmUpMs) / 1_000

  return 3 + warmUp + settings.rounds * perRound + settings.steadySeconds + 3
}

/** Room for a busy machine and for a profiled drain, then a hard stop. */
function deadlineMs (settings: Settings): number {
  return Math.round((plannedSeconds(settings) * 1.75 + 30) * 1_000)
}

function announcePlan (settings: Settings): void {
  const seconds = Math.round(plannedSeconds(settings))
  const hardStop = Math.round(deadlineMs(settings) / 1_000)
  const load = loadavg().map((value) => value.toFixed(2)).join(' ')
  const plan = `${settings.rounds} rounds, about ${seconds} s (hard stop after ${hardStop} s)`
  process.stderr.write(`worker throughput: ${plan}; load average ${load}\n`)
}

/** Wakes up the JIT before anything counts, and checks what each loop finds. */
async function warmUpLoops (
  loops: DifferLoop[], pairs: PreparedPair[], settings: Settings
): Promise<void> {
  for (const loop of loops) {
    const result = await measureDifferLoop(loop, pairs, settings.warmUpMs)
    reportLoop('warm-up:', loop, result)
  }
}

function reportLoop (label: string, loop: DifferLoop, result: TimedLoopResult): void {
  process.stderr.write(`${label} ${loop.label.padEnd(32)} ${formatNumber(result.perSecond)} pairs/s\n`)
}

/** Redis on 127.0.0.1, a namespace of our own, a producer and a watch on the queue. */
async function connect (bodies: FeedPairBodies[]): Promise<WorkerBench> {
  const logger = createLogger({ level: 'warn', destination: process.stderr })
  const redisUrl = await findRedis(logger)
  const namespace = createBenchNamespace()
  addCleanup(once(async () => { await dropBenchNamespace(redisUrl, namespace) }))

  const shadow = benchShadowConfig()
  const producer = await PairProducer.start({ redisUrl, namespace, route, bodies, shadow, logger })
  const watch = new PairQueueWatch(redisUrl, namespace, route)

  return { redisUrl, namespace, route, producer, watch }
}

/**
 * REDIS_URL when set (it must be on 127.0.0.1), else 127.0.0.1:6379, else
 * a private redis-server this run starts and stops.
 */
async function findRedis (logger: Logger): Promise<string> {
  const given = process.env.REDIS_URL === '' ? undefined : process.env.REDIS_URL
  if (given !== undefined) requireRedisLoopback(given)

  const resolved = await resolveRedis(given, logger)
  if (resolved.privateServer !== undefined) trackChild(resolved.privateServer)
  requireRedisLoopback(resolved.url)

  return resolved.url
}

/**
 * The gateway's defaults (batches of 64 pairs or 20 ms), except that a
 * batch's bodies expire after 10 minutes: a run killed with SIGKILL must
 * not leave hundreds of MB in Redis for a day.
 */
function benchShadowConfig (): ShadowConfig {
  const backend = { url: 'http://127.0.0.1:9' }
  const routes = [{ name: route, paths: ['/feed'], baseline: backend, candidate: backend }]

  return configSchema.parse({ routes, shadow: { retentionMs: 600_000 } }).shadow
}

async function disconnect (bench: WorkerBench): Promise<void> {
  await bench.producer.close()
  await bench.watch.close()
  await dropBenchNamespace(bench.redisUrl, bench.namespace)
}

async function measureRounds (run: Run): Promise<Round[]> {
  const rounds: Round[] = []
  for (let index = 0; index < run.settings.rounds; index++) rounds.push(await measureRound(index, run))

  return rounds
}

/**
 * Even rounds run the loops first, odd rounds the workers, and the loops'
 * order turns by one each round: a machine that slows down during the run
 * slows every figure alike.
 */
async function measureRound (index: number, run: Run): Promise<Round> {
  const shift = index % run.loops.length
  const turned = [...run.loops.slice(shift), ...run.loops.slice(0, shift)]
  const label = `round ${index + 1}/${run.settings.rounds}`
  const loopsFirst = index % 2 === 0

  const early = loopsFirst ? await measureLoops(turned, run, label) : undefined
  const [one, two] = await measureWorkers(index, run, label)
  const loops = early ?? await measureLoops(turned, run, label)

  const phases = loopsFirst ? ['loops', 'workers'] : ['workers', 'loops']
  const order = [...phases, ...turned.map((loop) => loop.name)]

  return { round: index + 1, order, loops, one, two }
}

async function measureLoops (
  loops: DifferLoop[], run: Run, label: string
): Promise<Record<LoopName, LoopFigures>> {
  const results: Partial<Record<LoopName, LoopFigures>> = {}
  for (const loop of loops) {
    const result = await measureDifferLoop(loop, run.pairs, run.settings.loopMs)
    results[loop.name] = result
    reportLoop(`${label} in process`, loop, result)
  }

  return results as Record<LoopName, LoopFigures>
}

async function measureWorkers (
  index: number, run: Run, label: string
): Promise<[BacklogFigures, BacklogFigures | undefined]> {
  const pairs = run.settings.backlogPairs
  const one = await drainBacklog(run.bench, { pairs, workers: 1, label: `r${index + 1}-one` })
  reportBacklog(`${label} one worker `, one)
  await sleep(settleMs)
  if (!run.settings.twoWorkers) return [one, undefined]

  const two = await drainBacklog(run.bench, { pairs, workers: 2, label: `r${index + 1}-two` })
  reportBacklog(`${label} two workers`, two)
  await sleep(settleMs)

  return [one, two]
}

function reportBacklog (label: string, figures: BacklogFigures): void {
  const rate = `${formatNumber(figures.pairsPerSecond)} pairs/s`
  const judge = `judging ${formatNumber(figures.judgeUsPerPair)} µs/pair`
  const waitingUs = figures.mainThreadUsPerPair.waitingForCore
  const waiting = `waiting for a core ${formatNumber(waitingUs)} µs/pair`
  const written = `backlog written in ${formatNumber(figures.enqueueMs)} ms`
  process.stderr.write(`${label} ${rate} (${judge}, ${waiting}; ${written})\n`)
}

function summarizeRounds (rounds: Round[]): Summary {
  const loopMedian = (name: LoopName): number =>
    median(rounds.map((round) => round.loops[name].perSecond))
  const medians = loopNames.map((name) => [name, loopMedian(name)])
  const loops = Object.fromEntries(medians) as Record<LoopName, number>
  const ones = rounds.map((round) => round.one)
  const ofOnes = (pick: (figures: BacklogFigures) => number): number => median(ones.map(pick))
  const twos = rounds.flatMap((round) => round.two === undefined ? [] : [round.two.pairsPerSecond])
  const one = ofOnes((figures) => figures.pairsPerSecond)
  const judgePairMainThread = medianJudgePairSchedule(rounds)
  const oneMainThread = {
    running: ofOnes((figures) => figures.mainThreadUsPerPair.running),
    waitingForCore: ofOnes((figures) => figures.mainThreadUsPerPair.waitingForCore),
    blocked: ofOnes((figures) => figures.mainThreadUsPerPair.blocked)
  }
  // Each round's worker against that round's loop, then the median: a
  // machine that speeds up or slows down between rounds moves both sides
  // of a round's ratio alike (bench:shadow judges its ratios the same way).
  const oneRatioPerRound = rounds.map((round) => round.one.pairsPerSecond / round.loops.judgePair.perSecond)
  const oneRatio = median(oneRatioPerRound)
  const oneRatioOwnCore = judgePairMainThread.running / (oneMainThread.running + oneMainThread.blocked)
  const waitShares = describeWaitShares(judgePairMainThread, oneMainThread)
  const busy = Math.max(waitShares.judgePair, waitShares.oneWorker) > busyWaitShare
  const verdictRatio = busy ? oneRatioOwnCore : oneRatio

  return {
    loops,
    one,
    two: twos.length === 0 ? undefined : median(twos),
    oneRatio,
    oneRatioPerRound,
    oneWorkerCpuUsPerPair: ofOnes((figures) => figures.workerCpuUsPerPair),
    oneRedisCpuUsPerPair: ofOnes((figures) => figures.redisCpuUsPerPair),
    oneJudgeUsPerPair: ofOnes((figures) => figures.judgeUsPerPair),
    judgePairMainThread,
    oneMainThread,
    oneRatioOwnCore,
    gcUsPerPair: {
      judgePair: median(rounds.map(({ loops }) => loopGcUsPerPair(loops.judgePair))),
      oneWorker: ofOnes(workerGcUsPerPair)
    },
    waitShares,
    verdictRatio,
    verdictBasis: busy ? 'without waiting for a core' : 'wall clock',
    pass: verdictRatio >= targetRatio
  }
}

function describeWaitShares (
  judge: Summary['judgePairMainThread'], worker: Summary['oneMainThread']
): Summary['waitShares'] {
  const workerWallUs = worker.running + worker.waitingForCore + worker.blocked

  return {
    judgePair: judge.waitingForCore / (judge.running + judge.waitingForCore),
    oneWorker: worker.waitingForCore / workerWallUs
  }
}

function loopGcUsPerPair (figures: LoopFigures): number {
  return (sumValues(figures.gcMsByKind) * 1_000) / figures.iterations
}

/** Over the worker's whole life, start-up included, which collects little. */
function workerGcUsPerPair (figures: BacklogFigures): number {
  const seconds = figures.metrics.reduce((sum, metrics) => sum + sumValues(metrics.gcSecondsByKind), 0)
  const pairs = figures.metrics.reduce((sum, metrics) => sum + metrics.pairs, 0)

  return (seconds * 1e6) / pairs
}

function sumValues (values: Record<string, number>): number {
  return Object.values(values).reduce((sum, value) => sum + value, 0)
}

function medianJudgePairSchedule (rounds: Round[]): Summary['judgePairMainThread'] {
  const judged = rounds.map(({ loops }) => loops.judgePair)
  const perPair = (result: TimedLoopResult, ms: number): number => (ms * 1_000) / result.iterations
  const running = judged.map((result) => perPair(result, result.mainThread.runningMs))
  const waiting = judged.map((result) => perPair(result, result.mainThread.waitingMs))

  return { running: median(running), waitingForCore: median(waiting) }
}

/** Half the capacity one worker showed: what the queue should absorb without growing. */
async function measureSteadyState (run: Run, summary: Summary): Promise<SteadyFigures> {
  const ratePerSecond = Math.max(50, Math.floor(summary.one / 2))
  const durationMs = run.settings.steadySeconds * 1_000
  const offered = `${formatNumber(ratePerSecond)} pairs/s offered for ${run.settings.steadySeconds} s`
  process.stderr.write(`steady state: one worker, ${offered}\n`)

  const options = { ratePerSecond, durationMs, sampleEveryMs: depthEveryMs, flat: flatRule }
  const steady = await offerSteadily(run.bench, options)
  const { start, max, end } = steady.depth
  process.stderr.write(`steady state: depth start ${start}, max ${max}, end ${end} batches\n`)

  return steady
}

/**
 * With --profile, or when one worker missed the target: one more backlog
 * drained by a worker under --cpu-prof. Its rate is not used: the
 * profiler slows the worker down, and more so on a busy machine.
 */
async function profileIfWanted (run: Run, summary: Summary): Promise<Profiled | undefined> {
  if (!run.settings.profile && summary.pass) return undefined

  const dir = await mkdtemp(join(tmpdir(), 'shadowramp-worker-profile-'))
  process.stderr.write(`profiling one worker draining a backlog into ${dir}\n`)
  const options = { pairs: run.settings.backlogPairs, workers: 1, label: 'profiled', cpuProfileDir: dir }
  const figures = await drainBacklog(run.bench, options)
  reportBacklog('profiled  one worker ', figures)

  return { figures, summary: await summarizeProfiles(dir) }
}

function describeBytes (bodies: FeedPairBodies[]): { baseline: number, candidate: number } {
  const first = bodies[0]

  return { baseline: first?.baseline.length ?? 0, candidate: first?.candidate.length ?? 0 }
}

async function saveFigures (figures: Record<string, unknown>): Promise<void> {
  const file = await writeResults('worker-throughput', figures)
  process.stdout.write(`raw figures: ${relative(process.cwd(), file)}\n`)
}
