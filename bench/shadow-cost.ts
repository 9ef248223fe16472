/**
 * Shadow cost: what mirroring live requests and queueing their pairs costs
 * the gateway, and whether a failing shadow backend or a stalled Redis
 * reaches the live path.
 *
 * Seven gateways run side by side against the same upstreams, all at
 * percentage 0 (the baseline serves every live request), all on a private
 * Redis this benchmark starts:
 *
 *   off                 no mirror on the route
 *   mirror-only         mirroring 100%, pairs discarded once captured
 *   queue, all differ   mirroring 100%, batched queue; every candidate answer differs
 *   queue, 95% ident.   the same, the candidate differing on 5% of answers
 *   naive, all differ   mirroring 100%, one BullMQ job per pair with base64 bodies
 *   slow shadow         as "queue, all differ" with the candidate 200 ms slow
 *   refused shadow      as "queue, all differ" with the candidate on a closed port
 *
 * and "Redis paused" is the "queue, all differ" gateway while its Redis is
 * stopped (SIGSTOP) for 5 s. Each round measures every configuration, the
 * order rotating from round to round; the table shows medians across
 * rounds. The targets are judged on a second measurement, in turns: the
 * gateways each comparison needs take one-second slices by turn, for
 * --cycles cycles, and each one's answers are pooled over its slices, so
 * a slowdown of the machine from outside falls on both sides of a ratio.
 * See bench/README.md for how to read the figures.
 *
 *   node --initial-old-space-size=256 --import tsx bench/shadow-cost.ts [--quick] [--rounds 3]
 *     [--seconds 3] [--rate 1000] [--cycles 30] [--profile <gateway>]
 *
 * --seconds is the closed-loop phase; fixed-rate phases run a second
 * longer (half a second with --quick, which also pauses Redis in the last
 * round only). --rate caps the fixed rate, which is lowered to half of
 * what the batched design saturates at when that is less. --profile runs
 * one gateway under `node --cpu-prof` and summarizes the profile.
 */
import { mkdtemp, readdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { configSchema, routeSchema } from '../src/config/schema.js'
import { loadOptions, readWhole, settingsOrExit } from './lib/bench-options.js'
import { measureClosedLoop, type ClosedLoopResult } from './lib/closed-loop.js'
import {
  measureInterleavedClosedLoop, measureInterleavedOpenLoop, rateOver, type PooledLatency, type PooledThroughput
} from './lib/interleaved-load.js'
import type { TimeShare } from './lib/cpu-profile.js'
import { summarizeGatewayProfile, type GatewayProfileSummary } from './lib/gateway-cpu-profile.js'
import { startGateway, type GatewayPairSink, type RunningGateway } from './lib/gateway-process.js'
import { median, percentile, summarizeLatencies } from './lib/latency-stats.js'
import { requireLoopback } from './lib/loopback.js'
import { measureOpenLoop, type OpenLoopResult } from './lib/open-loop.js'
import { measureCpu } from './lib/process-usage.js'
import { QueuedPairs } from './lib/queued-pairs.js'
import { startPrivateRedis, type PrivateRedis } from './lib/redis-server.js'
import { writeResults } from './lib/results-file.js'
import { cycleInterval, everyCycle, PooledSlices, straddles, type Interval } from './lib/resample.js'
import { calmCycles, readStealMs } from './lib/host-steal.js'
import { runBench } from './lib/run-guard.js'
import {
  readShadowMetrics, shadowChangeBetween, traceShadowGauges, type ShadowGaugeTrace, type ShadowMetricsChange
} from './lib/shadow-metrics.js'
import { formatNumber, formatSigned, formatTable } from './lib/text-table.js'
import { startUpstream, type RunningUpstream } from './lib/upstream-process.js'

type SetupName = 'off' | 'mirrorOnly' | 'queueAllDiffer' | 'queueMostlyIdentical' | 'naive'
type FaultName = 'slowShadow' | 'refusedShadow' | 'redisPaused'
type PhaseName = SetupName | FaultName
type GatewayName = SetupName | 'slowShadow' | 'refusedShadow'
type UpstreamName = 'baseline' | 'allDiffer' | 'mostlyIdentical' | 'slow'

interface Settings {
  rounds: number
  closedSeconds: number
  /** Length of each fixed-rate phase (the Redis pause has its own). */
  openSeconds: number
  warmUpSeconds: number
  connections: number
  openConnections: number
  /** The fixed rate, unless the machine cannot sustain it. */
  maxRate: number
  /**
   * Redis stays stopped this long, inside a fixed-rate phase of lead +
   * pause + tail; the healthy reference runs this long before and after.
   */
  pause: { leadSeconds: number, seconds: number, tailSeconds: number, healthySeconds: number }
  /** Rounds that include the Redis pause: all of them, or only the last (--quick). */
  pauseEveryRound: boolean
  /** The compared configurations in turns, for the targets: cycles of one slice each. */
  interleave: { cycles: number, sliceSeconds: number }
  /** A gateway to run under `node --cpu-prof`. */
  profile: GatewayName | undefined
}

interface GatewayPlan {
  label: string
  candidate: UpstreamName | 'closedPort'
  /** The route's mirror settings; none: no mirroring. */
  mirror: Record<string, unknown> | undefined
  pairSink: GatewayPairSink
}

/** Everything the rounds run against, started once. */
interface Rig {
  redis: PrivateRedis
  upstreams: Record<UpstreamName, RunningUpstream>
  gateways: Record<GatewayName, RunningGateway>
  queuedPairs: QueuedPairs
  rate: number
  /** What the batched design answered at saturation after warm-up. */
  saturatedRate: number
  settings: Settings
  /** The body size of the live answer (the baseline's feed). */
  bytes: number
  /** 1-minute load average at the start and end: others' work on the machine shows here. */
  loadAverage: { start: number, end: number }
}

interface SetupFigures {
  closed: ClosedLoopResult
  closedCpuMs: Record<string, number | null>
  closedShadow: ShadowMetricsChange
  fixed: FixedRateFigures
}

interface FixedRateFigures {
  open: OpenLoopResult
  cpuMs: Record<string, number | null>
  shadow: ShadowMetricsChange
  trace: ShadowGaugeTrace
  /** Redis pause only. */
  pause?: PauseFigures
}

interface PauseFigures {
  /** When Redis was stopped and continued, in ms after the phase started. */
  pausedAtMs: number
  resumedAtMs: number
  /** From the phase's end until no pair waits for Redis in the gateway; undefined: not within 10 s. */
  backlogDrainedMs: number | undefined
  /** Live latency by when the request was due: before the pause, during it, after it. */
  windows: Record<PauseWindow, WindowLatency>
  /**
   * The same gateway at the same rate with Redis running, measured just
   * before the phase and again once its backlog was written: the healthy
   * reference the pause is judged against, seconds away rather than minutes.
   */
  healthyAround: WindowLatency & { failed: number }
  /** Requests due from the moment Redis stopped to the phase's end: what the pause is judged on. */
  sincePaused: WindowLatency
}

type PauseWindow = 'before' | 'paused' | 'after'

interface WindowLatency {
  requests: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** The targets' comparisons, each side measured in turns with the others (see interleaved-load.ts). */
interface Interleaved {
  fixed: Record<InterleavedFixed, PooledLatency>
  closed: Record<InterleavedClosed, PooledThroughput>
}

const interleavedFixed = ['off', 'queueAllDiffer', 'queueMostlyIdentical', 'slowShadow', 'refusedShadow'] as const
const interleavedClosed = ['mirrorOnly', 'queueAllDiffer', 'queueMostlyIdentical'] as const
type InterleavedFixed = typeof interleavedFixed[number]
type InterleavedClosed = typeof interleavedClosed[number]

interface Round {
  round: number
  order: PhaseName[]
  setups: Partial<Record<SetupName, SetupFigures>>
  faults: Partial<Record<FaultName, FixedRateFigures>>
  /**
   * CPU the host took from the machine during each phase, in ms (steal,
   * host-steal.ts; NaN where unknown). The rounds' medians are not judged
   * on it, but a round the host slowed shows in its lines and here.
   */
  stealMs: Partial<Record<PhaseName, number>>
}

interface PhaseMedians {
  rounds: number
  closedRequestsPerSecond: number
  closedP99Ms: number
  fixedP50Ms: number
  fixedP99Ms: number
  fixedWorstMs: number
  fixedAchievedRate: number
  fixedSendLagP99Ms: number
  gatewayCpuUsClosed: number
  gatewayCpuUsFixed: number
  redisCpuUsClosed: number
  /** Totals over all rounds. */
  liveErrors: number
  fallbacks: number
  captured: number
  enqueued: number
  identical: number
  skippedByReason: Record<string, number>
  droppedByReason: Record<string, number>
  shadowErrorsByKind: Record<string, number>
  maxPendingBytes: number
  minRateFactor: number
  /** Worst event-loop delay in any fixed-rate phase, and GC time in them, totals by kind. */
  maxEventLoopLagMs: number
  gcSecondsByKind: Record<string, number>
}

interface Target {
  name: string
  pass: boolean
  measured: string
  limit: string
  /** How far from the limit, when it failed. */
  miss?: string
  /** How far the figure could have moved by chance: its interval over cycles, or the per-round figures. */
  spread: string
  /** Its interval over cycles, for the results file. */
  interval?: Interval
  /**
   * Its interval over cycles straddles the limit: this run's noise is
   * larger than the margin; or the host took CPU in too many cycles.
   */
  unresolved?: boolean
}

/**
 * The cycles a comparison in turns is judged on: those in which the host
 * took at most `stealLimitMs` from every slice (host-steal.ts). When fewer
 * than half of them are calm, every cycle is used and the verdict cannot
 * be told: the run measured the host more than the gateways.
 */
interface JudgedCycles {
  picked: number[]
  of: number
  /** How many cycles were calm, whether or not they were enough. */
  calm: number
  hostDisturbed: boolean
}

/**
 * More than this taken by the host from a 1 s slice leaves its cycle out.
 * /proc/stat counts in 10 ms ticks, so a slice shows 0, 10, 20 ms…: 10
 * can be a tick's rounding, 20 is not. At 1,000 req/s, 20 ms without CPU
 * delays 20 requests, twice the 10 a slice's p99 is decided by.
 */
const stealLimitMs = 10

const usage = 'usage: node --initial-old-space-size=256 --import tsx bench/shadow-cost.ts [--quick] [--rounds 3..15] ' +
  '[--seconds 1..30] [--rate 50..20000] [--cycles 2..120] [--profile off|mirrorOnly|queueAllDiffer|' +
  'queueMostlyIdentical|naive|slowShadow|refusedShadow]'
const feedPath = '/feed/videos?limit=20'
const settleMs = 250
const sampleMs = 250
const lowestRate = 50
const slowShadowMs = 200
/** A failing shadow backend or a paused Redis moves live p99 by at most 10%. */
const faultLimit = 1.1
const mostlyIdenticalShare = 0.05
/** The configuration's defaults, which the benchmark does not change: read from the schema, never restated. */
const { maxPendingBytes } = configSchema.shape.shadow.parse(undefined)
const { maxInFlight } = routeSchema.shape.mirror.unwrap().parse({})
/**
 * Shadow requests in flight allowed where throughput is measured. At
 * saturation the gateway's own event loop delays the shadow answers, the
 * default cap of 64 is reached, and the budget guard halves the shadow
 * rate: "mirroring 100%" would then mirror less the busier a
 * configuration is. The shadow-fault gateways keep the default.
 */
const throughputMaxInFlight = 512
/**
 * The fixed rate is at most this share of what the batched design
 * saturates at, so that it measures latency rather than queueing.
 */
const rateShareOfSaturation = 0.5

/** Every request mirrored: no sampling, and no per-second cap below what a saturated gateway sends. */
const allRequests = { sampleRate: 100, maxPerSecond: 1_000_000 }
const throughputMirror = { ...allRequests, maxInFlight: throughputMaxInFlight }

const gatewayPlans: Record<GatewayName, GatewayPlan> = {
  off: {
    label: 'off (no mirror)', candidate: 'allDiffer', mirror: undefined, pairSink: 'batched'
  },
  mirrorOnly: {
    label: 'mirror-only (pairs discarded)', candidate: 'allDiffer', mirror: throughputMirror, pairSink: 'discard'
  },
  queueAllDiffer: {
    label: 'queue, all pairs differ', candidate: 'allDiffer', mirror: throughputMirror, pairSink: 'batched'
  },
  queueMostlyIdentical: {
    label: 'queue, 95% identical', candidate: 'mostlyIdentical', mirror: throughputMirror, pairSink: 'batched'
  },
  naive: {
    label: 'naive: job per pair, base64', candidate: 'allDiffer', mirror: throughputMirror, pairSink: 'naive'
  },
  slowShadow: {
    label: 'slow shadow (200 ms)', candidate: 'slow', mirror: allRequests, pairSink: 'batched'
  },
  refusedShadow: {
    label: 'shadow refuses connections', candidate: 'closedPort', mirror: allRequests, pairSink: 'batched'
  }
}
const setupNames: SetupName[] = ['off', 'mirrorOnly', 'queueAllDiffer', 'queueMostlyIdentical', 'naive']
const faultNames: FaultName[] = ['slowShadow', 'refusedShadow', 'redisPaused']
const gatewayLabels = Object.entries(gatewayPlans).map(([name, plan]) => [name, plan.label])
const phaseLabels: Record<PhaseName, string> = {
  ...Object.fromEntries(gatewayLabels) as Record<GatewayName, string>,
  redisPaused: 'Redis paused 5 s'
}

const settings = settingsOrExit(() => readSettings(process.argv.slice(2)), usage)
runBench(async () => await measureShadowCost(settings), deadlineMs(settings))

async function measureShadowCost (settings: Settings): Promise<void> {
  announcePlan(settings)
  const profileDir = settings.profile === undefined
    ? undefined
    : await mkdtemp(join(tmpdir(), 'shadowramp-cpu-prof-'))
  const rig = await startRig(settings, profileDir)
  let rounds: Round[]
  let interleaved: Interleaved
  try {
    await warmUp(rig)
    rounds = await measureRounds(rig)
    interleaved = await measureInterleaved(rig)
    rig.loadAverage.end = loadavg()[0] ?? Number.NaN
  } finally {
    await stopRig(rig)
  }

  const medians = summarizePhases(rounds)
  const targets = judgeTargets(rounds, interleaved, medians, rig.rate)
  const profile = profileDir === undefined ? undefined : await readProfile(profileDir)
  printReport(rig, rounds, interleaved, medians, targets, profile)
  await saveFigures({
    settings,
    rate: rig.rate,
    saturatedRate: rig.saturatedRate,
    bytes: rig.bytes,
    loadAverage: rig.loadAverage,
    medians,
    targets,
    rounds,
    interleaved: describeSlices(interleaved),
    profile
  })
}

function readSettings (args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: { ...loadOptions, profile: { type: 'string' }, cycles: { type: 'string' } }
  })
  const quick = values.quick === true
  const closedSeconds = readWhole('--seconds', values.seconds, quick ? 1 : 3, 1, 30)

  return {
    rounds: readWhole('--rounds', values.rounds, 3, 3, 15),
    closedSeconds,
    openSeconds: quick ? closedSeconds + 0.5 : closedSeconds + 1,
    warmUpSeconds: quick ? 0.75 : 1.5,
    connections: 16,
    openConnections: 32,
    maxRate: readWhole('--rate', values.rate, 1_000, lowestRate, 20_000),
    pause: { leadSeconds: quick ? 0.5 : 1, seconds: 5, tailSeconds: quick ? 1 : 2, healthySeconds: quick ? 1.5 : 3 },
    pauseEveryRound: !quick,
    interleave: { cycles: readWhole('--cycles', values.cycles, quick ? 4 : 30, 2, 120), sliceSeconds: 1 },
    profile: readGatewayName(values.profile)
  }
}

function readGatewayName (text: string | undefined): GatewayName | undefined {
  if (text === undefined) return undefined
  if (Object.hasOwn(gatewayPlans, text)) return text as GatewayName

  throw new Error(`--profile expects one of ${Object.keys(gatewayPlans).join(', ')}, found ${text}`)
}

function plannedSeconds (settings: Settings): number {
  const settle = settleMs / 1_000
  const startingUp = 20
  const probe = Math.max(2, settings.warmUpSeconds) + 2 * settle
  const warmingUp = Object.keys(gatewayPlans).length * (settings.warmUpSeconds + 2 * settle)
  const setup = settings.closedSeconds + settings.openSeconds + 3 * settle
  const fault = settings.openSeconds + settle
  const { leadSeconds, seconds, tailSeconds, healthySeconds } = settings.pause
  const pause = leadSeconds + seconds + tailSeconds + 2 * (healthySeconds + settle) + 2
  const pauses = settings.pauseEveryRound ? settings.rounds : 1
  const round = setupNames.length * setup + 2 * fault
  const { cycles, sliceSeconds } = settings.interleave
  const turns = cycles * (interleavedFixed.length + interleavedClosed.length) * (sliceSeconds + settle)

  return startingUp + warmingUp + probe + settings.rounds * round + pauses * pause + turns
}

/** Room for start-up, drains and stopping, then a hard stop. */
function deadlineMs (settings: Settings): number {
  return Math.round((plannedSeconds(settings) * 1.4 + 30) * 1_000)
}

function announcePlan (settings: Settings): void {
  const seconds = Math.round(plannedSeconds(settings))
  const hardStop = Math.round(deadlineMs(settings) / 1_000)
  const profiled = settings.profile === undefined ? '' : `; ${settings.profile} runs under --cpu-prof`
  const plan = `${settings.rounds} rounds, about ${seconds} s (hard stop after ${hardStop} s)`
  process.stderr.write(`shadow cost: ${plan}${profiled}\n`)
}

/** Redis and four upstreams in parallel, then seven gateways. */
async function startRig (settings: Settings, profileDir: string | undefined): Promise<Rig> {
  const [redis, baseline, allDiffer, mostlyIdentical, slow, closedPort] = await Promise.all([
    startPrivateRedis(),
    startUpstream(),
    startUpstream({ withDifferences: true }),
    startUpstream({ differencesShare: mostlyIdenticalShare }),
    startUpstream({ withDifferences: true, delayMs: slowShadowMs }),
    findClosedPort()
  ])
  const upstreams = { baseline, allDiffer, mostlyIdentical, slow }
  const candidateUrl = (plan: GatewayPlan): string =>
    plan.candidate === 'closedPort' ? `http://127.0.0.1:${closedPort}` : upstreams[plan.candidate].url
  const start = async (name: GatewayName): Promise<[GatewayName, RunningGateway]> => {
    const plan = gatewayPlans[name]
    const profiled = name === settings.profile && profileDir !== undefined
    const nodeArgs = profiled ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
    const gateway = await startGateway({
      baselineUrl: baseline.url,
      candidateUrl: candidateUrl(plan),
      percentage: 0,
      extraRoute: plan.mirror === undefined ? {} : { mirror: plan.mirror },
      pairSink: plan.pairSink,
      redisUrl: redis.url,
      nodeArgs,
      startTimeoutMs: 40_000
    })
    return [name, gateway]
  }

  // One after the other: startGateway picks its ports before the gateway
  // binds them, and two starts at once could pick the same port, the
  // second then finding the first one's listener ready.
  const names = Object.keys(gatewayPlans) as GatewayName[]
  const started: Array<[GatewayName, RunningGateway]> = []
  for (const name of names) started.push(await start(name))
  const gateways = Object.fromEntries(started) as Record<GatewayName, RunningGateway>
  process.stderr.write(`started: Redis ${redis.url}, 4 upstreams, ${names.length} gateways\n`)

  return {
    redis,
    upstreams,
    gateways,
    queuedPairs: new QueuedPairs(redis.url),
    rate: settings.maxRate,
    saturatedRate: Number.NaN,
    settings,
    bytes: baseline.bytes,
    loadAverage: { start: loadavg()[0] ?? Number.NaN, end: Number.NaN }
  }
}

/**
 * A loopback port nothing listens on: taken from the system and released
 * at once. Connections to it are refused, as to a backend that is down.
 */
async function findClosedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))

  return typeof address === 'object' && address !== null ? address.port : 0
}

/** Gateways first (they write to Redis), then their pair data, upstreams and Redis. */
async function stopRig (rig: Rig): Promise<void> {
  rig.redis.resume()
  await Promise.all(Object.values(rig.gateways).map(async (gateway) => await gateway.stop()))
  await rig.queuedPairs.close()
  await Promise.all(Object.values(rig.upstreams).map(async (upstream) => await upstream.stop()))
  await rig.redis.stop()
}

/**
 * Checks every gateway answers with the feed from the baseline and wakes
 * up the JIT in all of them; then fixes the rate from one more closed
 * loop of the batched design, now warm: 1,000 req/s unless that is more
 * than half of its saturated rate on this machine.
 */
async function warmUp (rig: Rig): Promise<void> {
  const closed = { connections: rig.settings.connections, durationSeconds: rig.settings.warmUpSeconds }
  for (const [name, gateway] of Object.entries(rig.gateways) as Array<[GatewayName, RunningGateway]>) {
    await checkGateway(name, gateway, rig.bytes)
    await measureClosedLoop({ url: gateway.url + feedPath, ...closed })
    await sleep(settleMs)
    await clearPairs(rig, name)
  }

  const probeSeconds = Math.max(2, rig.settings.warmUpSeconds)
  const probeUrl = rig.gateways.queueAllDiffer.url + feedPath
  const probe = await measureClosedLoop({ url: probeUrl, ...closed, durationSeconds: probeSeconds })
  await sleep(settleMs)
  await clearPairs(rig, 'queueAllDiffer')
  rig.saturatedRate = probe.requestsPerSecond
  rig.rate = chooseRate(probe.requestsPerSecond, rig.settings.maxRate)
  const saturated = `queue, all differ saturates near ${formatNumber(probe.requestsPerSecond)} req/s`
  process.stderr.write(`warm-up: ${saturated}; ${describeRate(rig)}\n`)
}

function chooseRate (saturated: number, maxRate: number): number {
  const share = Math.floor((saturated * rateShareOfSaturation) / lowestRate) * lowestRate

  return Math.min(maxRate, Math.max(share, lowestRate))
}

function describeRate (rig: Rig): string {
  const rate = `fixed rate ${formatNumber(rig.rate)} req/s`
  if (rig.rate >= rig.settings.maxRate) return rate

  const saturated = formatNumber(rig.saturatedRate)
  return `${rate}, lowered from ${formatNumber(rig.settings.maxRate)}: this machine cannot sustain it ` +
    `(the batched design saturated at ${saturated} req/s; the rate is at most half of that)`
}

/** One request before any load: the whole feed, served by the baseline. */
async function checkGateway (name: GatewayName, gateway: RunningGateway, bytes: number): Promise<void> {
  const target = requireLoopback(gateway.url + feedPath)
  const client = new Client(target.origin, { headersTimeout: 5_000, bodyTimeout: 5_000 })
  try {
    const path = target.pathname + target.search
    const { statusCode, headers, body } = await client.request({ method: 'GET', path })
    const received = (await body.arrayBuffer()).byteLength
    if (statusCode === 200 && received === bytes && headers['x-served-by'] === 'baseline') return

    const found = `${statusCode} with ${received} bytes served by ${String(headers['x-served-by'])}`
    const expected = `200 with ${bytes} bytes served by baseline`
    throw new Error(`${name} gateway check failed: ${found}, expected ${expected}`)
  } finally {
    await client.close()
  }
}

/**
 * The targets' comparisons, measured in turns: fixed-rate slices of the
 * gateways whose p99 is compared, then saturation slices of those whose
 * req/s is. Each gateway's queue is emptied after its slice.
 */
async function measureInterleaved (rig: Rig): Promise<Interleaved> {
  const { cycles, sliceSeconds } = rig.settings.interleave
  const urls = <Name extends GatewayName>(names: readonly Name[]): Record<Name, string> =>
    Object.fromEntries(names.map((name) => [name, rig.gateways[name].url + feedPath])) as Record<Name, string>
  const turns = { cycles, sliceSeconds, gapMs: settleMs, afterSlice: async (name: GatewayName) => await clearPairs(rig, name) }
  const seconds = (count: number): string => formatNumber(cycles * count * (sliceSeconds + settleMs / 1_000))

  process.stderr.write(`in turns: ${cycles} cycles of ${sliceSeconds} s slices at ${formatNumber(rig.rate)} req/s, ` +
    `about ${seconds(interleavedFixed.length)} s\n`)
  const fixed = await measureInterleavedOpenLoop({
    ...turns, targets: urls(interleavedFixed), ratePerSecond: rig.rate, connections: rig.settings.openConnections
  })
  process.stderr.write(`in turns: ${cycles} cycles of ${sliceSeconds} s saturation slices, about ${seconds(interleavedClosed.length)} s\n`)
  const closed = await measureInterleavedClosedLoop({
    ...turns, targets: urls(interleavedClosed), connections: rig.settings.connections
  })

  return { fixed, closed }
}

async function measureRounds (rig: Rig): Promise<Round[]> {
  const rounds: Round[] = []
  for (let index = 0; index < rig.settings.rounds; index++) {
    rounds.push(await measureRound(index, rig))
  }

  return rounds
}

/**
 * Every configuration once, in an order that rotates by three places a
 * round, so none is always measured first, or always right after the
 * naive one that leaves Redis the busiest.
 */
async function measureRound (index: number, rig: Rig): Promise<Round> {
  const lastRound = index === rig.settings.rounds - 1
  const phases: PhaseName[] = [...setupNames, ...faultNames]
    .filter((name) => name !== 'redisPaused' || rig.settings.pauseEveryRound || lastRound)
  const shift = (index * 3) % phases.length
  const order = [...phases.slice(shift), ...phases.slice(0, shift)]
  const round: Round = { round: index + 1, order, setups: {}, faults: {}, stealMs: {} }

  for (const name of order) {
    const label = `round ${index + 1}/${rig.settings.rounds} ${name}`
    const stealBefore = readStealMs() ?? Number.NaN
    const takenByHost = (): number => (round.stealMs[name] = (readStealMs() ?? Number.NaN) - stealBefore)
    if (isSetup(name)) {
      round.setups[name] = await measureSetup(name, rig)
      reportSetup(label, round.setups[name], takenByHost())
    } else {
      round.faults[name] = name === 'redisPaused'
        ? await measureRedisPause(rig)
        : await measureFixedRate(name, rig)
      reportFixed(label, round.faults[name], takenByHost())
    }
  }

  return round
}

function isSetup (name: PhaseName): name is SetupName {
  return (setupNames as PhaseName[]).includes(name)
}

/** Saturation (closed loop), then the fixed rate, each starting with an empty queue. */
async function measureSetup (name: SetupName, rig: Rig): Promise<SetupFigures> {
  const gateway = rig.gateways[name]
  const before = await readShadowMetrics(gateway.adminUrl)
  const closed = await measureCpu(processIds(name, rig), async () => await measureClosedLoop({
    url: gateway.url + feedPath, connections: rig.settings.connections, durationSeconds: rig.settings.closedSeconds
  }))
  await sleep(settleMs)
  const after = await readShadowMetrics(gateway.adminUrl)
  const closedShadow = await countQueued(name, rig, shadowChangeBetween(before, after))
  await clearPairs(rig, name)

  const fixed = await measureFixedRate(name, rig)
  return { closed: closed.result, closedCpuMs: closed.cpuMs, closedShadow, fixed }
}

interface FixedRateOptions {
  seconds?: number
  /** Called as the load starts. */
  onStart?: () => void
  onAnswer?: (dueAtMs: number, latencyMs: number) => void
}

/** The fixed-rate phase, reading the gateway's gauges every 250 ms throughout. */
async function measureFixedRate (
  name: GatewayName, rig: Rig, options: FixedRateOptions = {}
): Promise<FixedRateFigures> {
  const gateway = rig.gateways[name]
  const durationSeconds = options.seconds ?? rig.settings.openSeconds
  const before = await readShadowMetrics(gateway.adminUrl)
  const measured = await traceShadowGauges(gateway.adminUrl, sampleMs, async () =>
    await measureCpu(processIds(name, rig), async () => {
      options.onStart?.()
      return await measureOpenLoop({
        url: gateway.url + feedPath,
        ratePerSecond: rig.rate,
        durationSeconds,
        connections: rig.settings.openConnections,
        onAnswer: options.onAnswer
      })
    }))
  await sleep(settleMs)
  const after = await readShadowMetrics(gateway.adminUrl)
  const shadow = await countQueued(name, rig, shadowChangeBetween(before, after))
  await clearPairs(rig, name)

  const { result, cpuMs } = measured.result
  return { open: result, cpuMs, shadow, trace: measured.trace }
}

/**
 * The "queue, all differ" gateway at the fixed rate while its Redis is
 * stopped for a while: the live path must not notice, and the pairs held
 * for Redis must stay under maxPendingBytes. Afterwards the backlog is
 * given time to reach Redis before the next phase.
 */
async function measureRedisPause (rig: Rig): Promise<FixedRateFigures> {
  const { leadSeconds, seconds, tailSeconds, healthySeconds } = rig.settings.pause
  const pause = createPause(rig.redis, leadSeconds * 1_000, seconds * 1_000)
  const answers: Array<[number, number]> = []
  const healthy: number[] = []
  const before = await measureHealthy(rig, healthySeconds, healthy)
  let figures: FixedRateFigures
  try {
    figures = await measureFixedRate('queueAllDiffer', rig, {
      seconds: leadSeconds + seconds + tailSeconds,
      onStart: pause.start,
      onAnswer: (dueAtMs, latencyMs) => { answers.push([dueAtMs, latencyMs]) }
    })
  } finally {
    pause.cancel()
  }

  const backlogDrainedMs = await waitForBacklog(rig.gateways.queueAllDiffer)
  await clearPairs(rig, 'queueAllDiffer')
  const after = await measureHealthy(rig, healthySeconds, healthy)
  const times = pause.times()
  const healthyAround = {
    requests: healthy.length, failed: before + after, ...summarizeLatencies(healthy)
  }
  const sincePaused = answers.flatMap(([dueAtMs, latencyMs]) => dueAtMs >= times.pausedAtMs ? [latencyMs] : [])
  const pauseFigures = {
    ...times,
    backlogDrainedMs,
    windows: splitByPause(answers, times),
    sincePaused: { requests: sincePaused.length, ...summarizeLatencies(sincePaused) },
    healthyAround
  }
  return { ...figures, pause: pauseFigures }
}

/**
 * "queue, all differ" at the fixed rate with Redis running, measured as
 * the pause phase is (gauges read throughout); its latencies are added to
 * `latencies`. Resolves to its failed requests.
 */
async function measureHealthy (rig: Rig, seconds: number, latencies: number[]): Promise<number> {
  const { open } = await measureFixedRate('queueAllDiffer', rig, {
    seconds, onAnswer: (_dueAtMs, latencyMs) => { latencies.push(latencyMs) }
  })

  return open.errors + open.unfinished + open.non2xx
}

interface Pause {
  start: () => void
  cancel: () => void
  times: () => { pausedAtMs: number, resumedAtMs: number }
}

/** Stops Redis `leadMs` after start() for `pauseMs`; cancel() continues it at once, whatever the state. */
function createPause (redis: PrivateRedis, leadMs: number, pauseMs: number): Pause {
  const times = { pausedAtMs: Number.NaN, resumedAtMs: Number.NaN }
  const timers: NodeJS.Timeout[] = []
  let startedAt = 0
  const resume = (): void => {
    if (!redis.paused()) return
    redis.resume()
    times.resumedAtMs = performance.now() - startedAt
  }

  return {
    start: () => {
      startedAt = performance.now()
      const pause = (): void => {
        redis.pause()
        times.pausedAtMs = performance.now() - startedAt
      }
      timers.push(setTimeout(pause, leadMs))
      timers.push(setTimeout(resume, leadMs + pauseMs))
    },
    cancel: () => { for (const timer of timers) clearTimeout(timer); resume() },
    times: () => ({ ...times })
  }
}

/** Live latencies by when each request was due: before Redis stopped, while stopped, after. */
function splitByPause (
  answers: Array<[number, number]>, times: { pausedAtMs: number, resumedAtMs: number }
): Record<PauseWindow, WindowLatency> {
  const windows: Record<PauseWindow, number[]> = { before: [], paused: [], after: [] }
  for (const [dueAtMs, latencyMs] of answers) {
    const window = dueAtMs < times.pausedAtMs ? 'before' : dueAtMs < times.resumedAtMs ? 'paused' : 'after'
    windows[window].push(latencyMs)
  }
  const describe = (latencies: number[]): WindowLatency =>
    ({ requests: latencies.length, ...summarizeLatencies(latencies) })

  return {
    before: describe(windows.before),
    paused: describe(windows.paused),
    after: describe(windows.after)
  }
}

/** Until nothing waits for Redis in the gateway, or 10 s; undefined when it did not empty. */
async function waitForBacklog (gateway: RunningGateway): Promise<number | undefined> {
  const startedAt = Date.now()
  while (Date.now() - startedAt < 10_000) {
    const { pendingBytes } = await readShadowMetrics(gateway.adminUrl)
    if (pendingBytes === 0) return Date.now() - startedAt
    await sleep(100)
  }

  return undefined
}

/**
 * The naive sink reports nothing in /metrics; its pairs queued are the
 * jobs waiting in its queue (emptied before every phase, no worker).
 */
async function countQueued (name: GatewayName, rig: Rig, change: ShadowMetricsChange): Promise<ShadowMetricsChange> {
  if (gatewayPlans[name].pairSink !== 'naive') return change

  const jobs = await rig.queuedPairs.countWaiting(rig.gateways[name].namespace, 'naive-pairs')
  return { ...change, enqueued: jobs }
}

/** Empties the gateway's queues, so the next phase starts as the first did. */
async function clearPairs (rig: Rig, name: GatewayName): Promise<void> {
  await rig.queuedPairs.drop(rig.gateways[name].namespace, ['pairs', 'naive-pairs'])
}

/** Whose CPU time is read around a phase: the generator, the gateway, Redis and both upstreams. */
function processIds (name: GatewayName, rig: Rig): Record<string, number> {
  const plan = gatewayPlans[name]
  const ids: Record<string, number> = {
    generator: process.pid,
    gateway: rig.gateways[name].pid,
    redis: rig.redis.pid,
    baseline: rig.upstreams.baseline.pid
  }
  const candidate = plan.mirror === undefined || plan.candidate === 'closedPort' ? undefined : plan.candidate
  if (candidate !== undefined) ids.candidate = rig.upstreams[candidate].pid

  return ids
}

function reportSetup (label: string, figures: SetupFigures, stealMs: number): void {
  const closed = `closed ${formatNumber(figures.closed.requestsPerSecond)} req/s`
  process.stderr.write(`${label.padEnd(38)} ${closed}; ${describeFixed(figures.fixed)}${describePhaseSteal(stealMs)}\n`)
}

function reportFixed (label: string, figures: FixedRateFigures, stealMs: number): void {
  process.stderr.write(`${label.padEnd(38)} ${describeFixed(figures)}${describePhaseSteal(stealMs)}\n`)
}

function describePhaseSteal (stealMs: number): string {
  return Number.isNaN(stealMs) ? '' : `; host took ${formatNumber(stealMs)} ms`
}

function describeFixed (figures: FixedRateFigures): string {
  const { open, shadow, trace } = figures
  const ms = (value: number): string => formatNumber(value, 2)
  const dropped = sumValues(shadow.droppedByReason)
  const skipped = sumValues(shadow.skippedByReason)

  return `fixed p50 ${ms(open.p50Ms)} p99 ${ms(open.p99Ms)} ms; pairs ${shadow.captured} captured, ` +
    `${dropped} dropped, ${skipped} skipped; pending max ${formatMb(trace.maxPendingBytes)}`
}

function summarizePhases (rounds: Round[]): Record<PhaseName, PhaseMedians> {
  const setups = setupNames.map((name) => {
    const figures = rounds.flatMap((round) => round.setups[name] ?? [])
    return [name, summarizeSetup(figures)] as const
  })
  const faults = faultNames.map((name) => {
    const figures = rounds.flatMap((round) => round.faults[name] ?? [])
    return [name, summarizeFixed(figures)] as const
  })

  return Object.fromEntries([...setups, ...faults]) as Record<PhaseName, PhaseMedians>
}

function summarizeSetup (figures: SetupFigures[]): PhaseMedians {
  const fixed = summarizeFixed(figures.map((each) => each.fixed))
  const closed = figures.map((each) => each.closed)
  const closedErrors = sumOf(closed, (each) => each.errors + each.timeouts + each.non2xx)
  const shadow = figures.map((each) => each.closedShadow)
  const cpu = (pid: string): number =>
    median(figures.map((each) => usPerRequest(each.closedCpuMs[pid], each.closed.responses)))

  return {
    ...fixed,
    closedRequestsPerSecond: median(closed.map((each) => each.requestsPerSecond)),
    closedP99Ms: median(closed.map((each) => each.p99Ms)),
    gatewayCpuUsClosed: cpu('gateway'),
    redisCpuUsClosed: cpu('redis'),
    liveErrors: fixed.liveErrors + closedErrors,
    fallbacks: fixed.fallbacks + sumOf(shadow, (each) => each.fallbacks),
    captured: fixed.captured + sumOf(shadow, (each) => each.captured),
    enqueued: fixed.enqueued + sumOf(shadow, (each) => each.enqueued),
    identical: fixed.identical + sumOf(shadow, (each) => each.identical),
    skippedByReason: addTotals([fixed.skippedByReason, ...shadow.map((each) => each.skippedByReason)]),
    droppedByReason: addTotals([fixed.droppedByReason, ...shadow.map((each) => each.droppedByReason)]),
    shadowErrorsByKind: addTotals([
      fixed.shadowErrorsByKind, ...shadow.map((each) => each.shadowErrorsByKind)
    ])
  }
}

function summarizeFixed (figures: FixedRateFigures[]): PhaseMedians {
  const open = figures.map((each) => each.open)
  const shadow = figures.map((each) => each.shadow)
  const traces = figures.map((each) => each.trace)

  return {
    rounds: figures.length,
    closedRequestsPerSecond: Number.NaN,
    closedP99Ms: Number.NaN,
    fixedP50Ms: median(open.map((each) => each.p50Ms)),
    fixedP99Ms: median(open.map((each) => each.p99Ms)),
    fixedWorstMs: Math.max(...open.map((each) => each.maxMs)),
    fixedAchievedRate: median(open.map((each) => each.achievedRate)),
    fixedSendLagP99Ms: median(open.map((each) => each.sendLagP99Ms)),
    gatewayCpuUsClosed: Number.NaN,
    gatewayCpuUsFixed: median(figures.map((each) => usPerRequest(each.cpuMs.gateway, each.open.completed))),
    redisCpuUsClosed: Number.NaN,
    liveErrors: sumOf(open, (each) => each.errors + each.unfinished + each.non2xx),
    fallbacks: sumOf(shadow, (each) => each.fallbacks),
    captured: sumOf(shadow, (each) => each.captured),
    enqueued: sumOf(shadow, (each) => each.enqueued),
    identical: sumOf(shadow, (each) => each.identical),
    skippedByReason: addTotals(shadow.map((each) => each.skippedByReason)),
    droppedByReason: addTotals(shadow.map((each) => each.droppedByReason)),
    shadowErrorsByKind: addTotals(shadow.map((each) => each.shadowErrorsByKind)),
    maxPendingBytes: Math.max(0, ...traces.map((each) => each.maxPendingBytes)),
    minRateFactor: Math.min(1, ...traces.map((each) => each.minRateFactor)),
    maxEventLoopLagMs: Math.max(0, ...traces.map((each) => each.maxEventLoopLagMs)),
    gcSecondsByKind: addTotals(shadow.map((each) => each.gcSecondsByKind))
  }
}

function usPerRequest (cpuMs: number | null | undefined, requests: number): number {
  if (cpuMs === null || cpuMs === undefined || requests === 0) return Number.NaN

  return (cpuMs * 1_000) / requests
}

/**
 * The targets. Throughput, added p99 and the shadow faults are judged on
 * the configurations measured in turns (measureInterleaved), pooled over
 * their slices; beside each stands its 90% interval over cycles
 * (resample.ts), how far it could have moved by chance. The Redis pause
 * is a phase of its own, judged on the median of the per-round ratios
 * against the same gateway with Redis running, measured just before and
 * after the phase.
 */
function judgeTargets (
  rounds: Round[], interleaved: Interleaved, medians: Record<PhaseName, PhaseMedians>, rate: number
): Target[] {
  const cycles = judgedCycles(interleaved)
  return [
    judgeThroughput(interleaved.closed, 'queueAllDiffer', 0.8, cycles.closed),
    judgeThroughput(interleaved.closed, 'queueMostlyIdentical', 0.9, cycles.closed),
    judgeAddedP99(interleaved.fixed, medians, 'queueAllDiffer', rate, cycles.fixed),
    judgeAddedP99(interleaved.fixed, medians, 'queueMostlyIdentical', rate, cycles.fixed),
    judgeShadowFault(interleaved.fixed, medians, 'slowShadow', rate, cycles.fixed),
    judgeShadowFault(interleaved.fixed, medians, 'refusedShadow', rate, cycles.fixed),
    judgeRedisPause(rounds, medians, rate),
    judgePendingBytes(medians.redisPaused)
  ]
}

/** The calm cycles of each kind of turns, or all of them when too few are calm. */
function judgedCycles (interleaved: Interleaved): { fixed: JudgedCycles, closed: JudgedCycles } {
  const judge = (stealBySlice: number[][]): JudgedCycles => {
    const of = Math.min(...stealBySlice.map((slices) => slices.length))
    const calm = calmCycles(stealBySlice, stealLimitMs)
    return calm.length >= Math.max(2, of / 2)
      ? { picked: calm, of, calm: calm.length, hostDisturbed: false }
      : { picked: everyCycle(of), of, calm: calm.length, hostDisturbed: true }
  }

  return {
    fixed: judge(Object.values<PooledLatency>(interleaved.fixed).map((pooled) => pooled.sliceStealMs)),
    closed: judge(Object.values<PooledThroughput>(interleaved.closed).map((pooled) => pooled.sliceStealMs))
  }
}

/** A figure's interval over cycles, drawn from the judged cycles only. */
function intervalOver (cycles: JudgedCycles, figure: (picked: readonly number[]) => number): Interval {
  return cycleInterval(cycles.picked.length, (drawn) => figure(drawn.map((index) => cycles.picked[index] ?? Number.NaN)))
}

/** The interval as the report shows it, with the cycles it was judged on. */
function describeSpread (interval: Interval, cycles: JudgedCycles, format: (value: number) => string): string {
  const judgedOn = cycles.hostDisturbed
    ? `all ${cycles.of} cycles, the host took CPU in most`
    : `${cycles.picked.length} of ${cycles.of} cycles`
  return `${describeInterval(interval, format)}; ${judgedOn}`
}

function judgeThroughput (
  closed: Record<InterleavedClosed, PooledThroughput>, name: 'queueAllDiffer' | 'queueMostlyIdentical', floor: number,
  cycles: JudgedCycles
): Target {
  const { mirrorOnly } = closed
  const ratioOver = (picked: readonly number[]): number =>
    rateOver(closed[name].slices, picked) / rateOver(mirrorOnly.slices, picked)
  const ratio = ratioOver(cycles.picked)
  const interval = intervalOver(cycles, ratioOver)
  // An error answers fast: a gateway failing requests must not pass on its req/s.
  const errors = closed[name].failed + mirrorOnly.failed
  const pass = ratio >= floor && errors === 0
  const short = ratio < floor ? [`${formatNumber((floor - ratio) * 100, 1)} points short`] : []
  if (errors > 0) short.push(`${errors} failed requests`)

  return {
    name: `closed-loop req/s, ${phaseLabels[name]} ÷ mirror-only`,
    pass,
    measured: `×${formatNumber(ratio, 2)}, ${errors} failed`,
    limit: `≥ ×${formatNumber(floor, 2)}, 0 failed`,
    ...(pass ? {} : { miss: short.join(', ') }),
    spread: describeSpread(interval, cycles, (value) => `×${formatNumber(value, 2)}`),
    interval,
    unresolved: cycles.hostDisturbed || straddles(interval, (value) => value >= floor, pass, errors)
  }
}

function judgeAddedP99 (
  fixed: Record<InterleavedFixed, PooledLatency>, medians: Record<PhaseName, PhaseMedians>,
  name: 'queueAllDiffer' | 'queueMostlyIdentical', rate: number, cycles: JudgedCycles
): Target {
  const limitMs = 3
  const [queued, off] = [new PooledSlices(fixed[name].slices), new PooledSlices(fixed.off.slices)]
  const addedOver = (picked: readonly number[]): number => queued.percentile(picked, 0.99) - off.percentile(picked, 0.99)
  const added = addedOver(cycles.picked)
  const interval = intervalOver(cycles, addedOver)
  const errors = medians[name].liveErrors + fixed[name].failed
  const pass = added <= limitMs && errors === 0

  return {
    name: `p99 at ${formatNumber(rate)} req/s, ${phaseLabels[name]} − off`,
    pass,
    measured: `${formatSigned(added)} ms, ${errors} live errors`,
    limit: `≤ +${limitMs} ms, 0 errors`,
    ...(pass ? {} : { miss: describeMiss(added - limitMs, ' ms', errors) }),
    spread: describeSpread(interval, cycles, (value) => `${formatSigned(value)} ms`),
    interval,
    unresolved: cycles.hostDisturbed || straddles(interval, (value) => value <= limitMs, pass, errors)
  }
}

/** A failing shadow backend against the healthy one: "queue, all differ", measured in turns with it. */
function judgeShadowFault (
  fixed: Record<InterleavedFixed, PooledLatency>, medians: Record<PhaseName, PhaseMedians>,
  name: 'slowShadow' | 'refusedShadow', rate: number, cycles: JudgedCycles
): Target {
  const healthy = fixed.queueAllDiffer
  const [faulty, reference] = [new PooledSlices(fixed[name].slices), new PooledSlices(healthy.slices)]
  const ratioOver = (picked: readonly number[]): number => faulty.percentile(picked, 0.99) / reference.percentile(picked, 0.99)
  const ratio = ratioOver(cycles.picked)
  const interval = intervalOver(cycles, ratioOver)
  const errors = medians[name].liveErrors + medians[name].fallbacks + fixed[name].failed

  const target = judgeFaultRatio(name, ratio, errors, rate, describeSpread(interval, cycles, (value) => `×${formatNumber(value, 2)}`))
  const unresolved = cycles.hostDisturbed || straddles(interval, (value) => value <= faultLimit, target.pass, errors)
  return { ...target, interval, unresolved }
}

function describeInterval (interval: Interval, format: (value: number) => string): string {
  if (Number.isNaN(interval.low)) return '90%: none, a slice had no answers'

  return `90%: ${format(interval.low)} to ${format(interval.high)}`
}

/**
 * Redis paused: live requests due from the moment it stopped to the
 * phase's end, against the same gateway with Redis running just before
 * and after the phase.
 */
function judgeRedisPause (rounds: Round[], medians: Record<PhaseName, PhaseMedians>, rate: number): Target {
  const pauses = rounds.flatMap((round) => round.faults.redisPaused?.pause ?? [])
  const perRound = pauses.map((pause) => pause.sincePaused.p99Ms / pause.healthyAround.p99Ms)
  const errors = medians.redisPaused.liveErrors + medians.redisPaused.fallbacks +
    sumOf(pauses, (pause) => pause.healthyAround.failed)
  const target = judgeFaultRatio('redisPaused', median(perRound), errors, rate, `rounds ${listRatios(perRound)}`)

  return { ...target, name: `p99 at ${formatNumber(rate)} req/s, Redis paused 5 s, from the stop on ÷ Redis running` }
}

function judgeFaultRatio (name: FaultName, ratio: number, errors: number, rate: number, spread: string): Target {
  const limit = faultLimit
  const pass = ratio <= limit && errors === 0

  return {
    name: `p99 at ${formatNumber(rate)} req/s, ${phaseLabels[name]} ÷ healthy shadow`,
    pass,
    measured: `×${formatNumber(ratio, 2)}, ${errors} live errors`,
    limit: `≤ ×${formatNumber(limit, 2)}, 0 errors`,
    ...(pass ? {} : { miss: describeMiss((ratio - limit) * 100, ' points', errors) }),
    spread
  }
}

function judgePendingBytes (paused: PhaseMedians): Target {
  const pass = paused.maxPendingBytes <= maxPendingBytes

  return {
    name: 'pairs held for Redis while it is paused (shadow_pending_bytes)',
    pass,
    measured: `max ${formatNumber(paused.maxPendingBytes)} B`,
    limit: `≤ ${formatNumber(maxPendingBytes)} B (shadow.maxPendingBytes)`,
    ...(pass ? {} : { miss: `over by ${formatMb(paused.maxPendingBytes - maxPendingBytes)}` }),
    spread: ''
  }
}

function describeMiss (over: number, unit: string, errors: number): string {
  const parts = over > 0 ? [`over by ${formatNumber(over, 2)}${unit}`] : []
  if (errors > 0) parts.push(`${errors} live errors`)

  return parts.join(', ')
}

function listRatios (values: number[]): string {
  return values.map((value) => `×${formatNumber(value, 2)}`).join(', ')
}

function printReport (
  rig: Rig, rounds: Round[], interleaved: Interleaved, medians: Record<PhaseName, PhaseMedians>,
  targets: Target[], profile: ProfileReport | undefined
): void {
  const { settings, rate } = rig
  const { start, end } = rig.loadAverage
  const heading = `shadow cost, median of ${settings.rounds} rounds: closed loop ` +
    `${settings.connections} connections × ${settings.closedSeconds} s, fixed rate ` +
    `${formatNumber(rate)} req/s × ${settings.openSeconds} s, ${formatNumber(rig.bytes)} B answers, ` +
    'every gateway at percentage 0; 1-minute load average ' +
    `${formatNumber(start, 2)} before the run (others' work), ${formatNumber(end, 2)} ` +
    `at its end (ours included), on ${cpus().length} cores`
  const lines = [
    '', heading, describeRate(rig), '', formatTable(tableRows(medians)), '',
    ...describeInterleaved(interleaved, rig), '',
    ...describeTargets(targets), '',
    ...describeReference(rounds), '',
    ...describeShadowSide(medians, settings),
    ...describePause(rounds),
    ...describeProfile(profile)
  ]

  process.stdout.write(`${lines.join('\n')}\n`)
}

function tableRows (medians: Record<PhaseName, PhaseMedians>): string[][] {
  const ms = (value: number): string => Number.isNaN(value) ? '–' : formatNumber(value, 2)
  const whole = (value: number): string => Number.isNaN(value) ? '–' : formatNumber(value)
  const row = (name: PhaseName): string[] => {
    const m = medians[name]
    return [
      phaseLabels[name], whole(m.closedRequestsPerSecond), ms(m.closedP99Ms),
      ms(m.fixedP50Ms), ms(m.fixedP99Ms), ms(m.fixedWorstMs), whole(m.fixedAchievedRate),
      whole(m.gatewayCpuUsClosed), whole(m.gatewayCpuUsFixed), whole(m.redisCpuUsClosed),
      `${m.liveErrors}/${m.fallbacks}`, `${m.captured}/${m.enqueued}/${sumValues(m.droppedByReason)}`
    ]
  }

  return [
    ['', 'closed', 'closed', 'fixed', 'fixed', 'fixed', 'fixed', 'gw CPU', 'gw CPU',
      'Redis CPU', 'live', 'pairs'],
    ['configuration', 'req/s', 'p99 ms', 'p50 ms', 'p99 ms', 'worst ms', 'req/s', 'µs/req',
      'µs/req', 'µs/req', 'errors/', 'captured/'],
    ['', '', '', '', '', '', 'achieved', 'closed', 'fixed', 'closed', 'fallbacks', 'queued/dropped'],
    ...[...setupNames, ...faultNames].map(row)
  ]
}

/** What the targets are judged on: each configuration's figures pooled over its slices. */
function describeInterleaved (interleaved: Interleaved, rig: Rig): string[] {
  const { cycles, sliceSeconds } = rig.settings.interleave
  const ms = (value: number): string => formatNumber(value, 2)
  const fixed = interleavedFixed.map((name) => {
    const pooled = interleaved.fixed[name]
    const slices = summarizeLatencies(sliceP99s(pooled))
    return `  ${phaseLabels[name]}: p50 ${ms(pooled.p50Ms)}, p99 ${ms(pooled.p99Ms)}, worst ${ms(pooled.maxMs)} ms ` +
      `(p99 of one slice: median ${ms(slices.p50Ms)}, highest ${ms(slices.maxMs)}); ` +
      `${formatNumber(pooled.answered)} answered, ${pooled.failed} failed`
  })
  const closed = interleavedClosed.map((name) => {
    const pooled = interleaved.closed[name]
    const rates = sliceRates(pooled)
    return `  ${phaseLabels[name]}: ${formatNumber(pooled.requestsPerSecond)} req/s ` +
      `(one slice: ${formatNumber(Math.min(...rates))} to ${formatNumber(Math.max(...rates))}); ${pooled.failed} failed`
  })

  const judged = judgedCycles(interleaved)
  return [
    `in turns, ${cycles} cycles of ${sliceSeconds} s slices, fixed rate ${formatNumber(rig.rate)} req/s (all cycles):`,
    ...fixed,
    describeSteal(Object.values<PooledLatency>(interleaved.fixed), judged.fixed),
    `in turns, ${cycles} cycles of ${sliceSeconds} s slices, closed loop ${rig.settings.connections} connections (all cycles):`,
    ...closed,
    describeSteal(Object.values<PooledThroughput>(interleaved.closed), judged.closed)
  ]
}

/** What the host took during the slices, and which cycles the targets are judged on for it. */
function describeSteal (pooled: Array<{ sliceStealMs: number[] }>, cycles: JudgedCycles): string {
  const taken = pooled.flatMap((each) => each.sliceStealMs)
  if (taken.every(Number.isNaN)) return '  CPU taken by the host: not reported by this system; every cycle judged'

  const most = Math.max(...taken.filter((value) => !Number.isNaN(value)))
  const disturbed = cycles.of - cycles.calm
  const judged = cycles.hostDisturbed
    ? `too few calm cycles, so the targets are judged on all and cannot be told (README, "Performance")`
    : `the targets are judged on the other ${cycles.picked.length}`
  return `  CPU taken by the host (steal): up to ${formatNumber(most)} ms from a slice; ${disturbed} of ${cycles.of} ` +
    `cycles lost more than ${stealLimitMs} ms in a slice; ${judged}`
}

function describeTargets (targets: Target[]): string[] {
  const header = ['', '', 'measured', 'target', 'miss', 'spread']
  const rows = targets.map((target) => [
    `${target.pass ? 'PASS' : 'FAIL'}${target.unresolved === true ? '*' : ''}`, target.name, target.measured,
    target.limit, target.miss ?? '', target.spread
  ])
  const unsure = targets.some((target) => target.unresolved === true)
    ? ['* the 90% interval over cycles straddles the limit, or the host took CPU in most cycles: this run cannot tell the figure from the limit']
    : []

  return [
    'targets (measured in turns and pooled over the slices of the cycles in which the host took at most ' +
      `${stealLimitMs} ms from every slice; the Redis pause: median of the per-round ratios):`,
    formatTable([header, ...rows]),
    ...unsure
  ]
}

/**
 * The naive design against mirror-only, and every queueing design by
 * gateway CPU per request as well: on a machine whose cores the load
 * generator, upstreams and Redis share, req/s also measures how the cores
 * were split, while CPU per request is what one gateway core could serve.
 * Medians of per-round figures, as for the targets.
 */
function describeReference (rounds: Round[]): string[] {
  const perRound = (name: SetupName, pick: (figures: SetupFigures) => number): number =>
    median(rounds.map((round) => {
      const { mirrorOnly } = round.setups
      const figures = round.setups[name]
      return figures === undefined || mirrorOnly === undefined ? Number.NaN : pick(figures) / pick(mirrorOnly)
    }))
  const throughput = (name: SetupName): number => perRound(name, (figures) => figures.closed.requestsPerSecond)
  const cpuUs = (figures: SetupFigures): number => usPerRequest(figures.closedCpuMs.gateway, figures.closed.responses)
  const capacity = (name: SetupName): string => `×${formatNumber(1 / perRound(name, cpuUs), 2)}`
  const ratio = (value: number): string => `×${formatNumber(value, 2)}`

  return [
    `reference: naive (job per pair, base64) ÷ mirror-only ${ratio(throughput('naive'))} req/s; batched, ` +
      `all differ ÷ mirror-only ${ratio(throughput('queueAllDiffer'))}: the batched design serves ` +
      `${ratio(throughput('queueAllDiffer') / throughput('naive'))} the naive one's req/s`,
    'by gateway CPU per request instead (closed loop; what one gateway core could serve), ÷ mirror-only: ' +
      `queue all differ ${capacity('queueAllDiffer')}, 95% identical ${capacity('queueMostlyIdentical')}, ` +
      `naive ${capacity('naive')}`
  ]
}

function describeShadowSide (medians: Record<PhaseName, PhaseMedians>, settings: Settings): string[] {
  const pause = settings.pause
  const lines = [
    `shadow side (totals over all rounds; in-flight cap mirror.maxInFlight ${maxInFlight}, ` +
      `pending cap shadow.maxPendingBytes ${formatMb(maxPendingBytes)}; Redis paused ${pause.seconds} s ` +
      `from ${pause.leadSeconds} s into a ${pause.leadSeconds + pause.seconds + pause.tailSeconds} s phase` +
      `${settings.pauseEveryRound ? '' : ', last round only'}):`
  ]
  for (const name of [...setupNames, ...faultNames]) {
    const m = medians[name]
    if (name === 'off') continue
    lines.push(`  ${phaseLabels[name]}: skipped ${listTotals(m.skippedByReason)}; ` +
      `dropped ${listTotals(m.droppedByReason)}; shadow errors ${listTotals(m.shadowErrorsByKind)}; bodies identical ${m.identical}; ` +
      `rate factor min ${formatNumber(m.minRateFactor, 3)}; pending max ${formatMb(m.maxPendingBytes)}`)
  }
  lines.push('gateway in the fixed-rate phases (all rounds): worst event-loop delay, GC seconds by kind:')
  for (const name of [...setupNames, ...faultNames]) {
    const { maxEventLoopLagMs, gcSecondsByKind } = medians[name]
    lines.push(`  ${phaseLabels[name]}: ${formatNumber(maxEventLoopLagMs)} ms; GC ${listTotals(gcSecondsByKind, 2)}`)
  }

  return lines
}

/** Where in the pause the live path suffered, if it did: the windows' figures, medians across rounds. */
function describePause (rounds: Round[]): string[] {
  const pauses = rounds.flatMap((round) => round.faults.redisPaused?.pause ?? [])
  if (pauses.length === 0) return []

  const ms = (value: number): string => formatNumber(value, 2)
  const window = (name: PauseWindow): string => {
    const p99 = median(pauses.map((pause) => pause.windows[name].p99Ms))
    const max = Math.max(...pauses.map((pause) => pause.windows[name].maxMs))
    return `${name} p99 ${ms(p99)} ms (worst ${ms(max)})`
  }
  const drained = pauses.map(({ backlogDrainedMs }) =>
    backlogDrainedMs === undefined ? 'not within 10 s' : `${formatNumber(backlogDrainedMs)} ms`)

  return [
    `  Redis paused, live latency by when requests were due: ${window('before')}; ` +
      `${window('paused')}; ${window('after')}; from the stop on p99 ` +
      `${ms(median(pauses.map((pause) => pause.sincePaused.p99Ms)))} ms; Redis running, just before and ` +
      `after the phase: p99 ${ms(median(pauses.map((pause) => pause.healthyAround.p99Ms)))} ms`,
    `    after the phase, the backlog reached Redis within ${drained.join(', ')}`
  ]
}

function listTotals (totals: Record<string, number>, decimals = 0): string {
  const parts = Object.entries(totals)
    .filter(([, value]) => value !== 0)
    .map(([key, value]) => `${key} ${formatNumber(value, decimals)}`)

  return parts.length === 0 ? 'none' : parts.join(', ')
}

interface ProfileReport {
  file: string
  summary: GatewayProfileSummary
}

async function readProfile (dir: string): Promise<ProfileReport | undefined> {
  // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile: thread 0 is the
  // event loop; a gateway run through tsx also profiles tsx's loader thread.
  const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'))
  const file = files.find((name) => /\.0\.\d+\.cpuprofile$/.test(name)) ?? files[0]
  if (file === undefined) {
    process.stderr.write(`bench: no CPU profile was written to ${dir} (the gateway did not exit cleanly)\n`)
    return undefined
  }

  return { file: join(dir, file), summary: await summarizeGatewayProfile(join(dir, file)) }
}

function describeProfile (profile: ProfileReport | undefined): string[] {
  if (profile === undefined) return []

  const { summary } = profile
  const entry = ({ share, ms, name }: TimeShare): string =>
    `  ${formatNumber(share * 100, 1).padStart(5)}%  ${formatNumber(ms).padStart(6)} ms  ${name}`
  const entries = (title: string, list: TimeShare[]): string[] => [title, ...list.map(entry)]

  return [
    '',
    `CPU profile of the gateway (${profile.file}): ${formatNumber(summary.busyMs)} ms busy, ` +
      `${formatNumber(summary.idleMs)} ms idle; the figures above were taken under the profiler`,
    ...entries('top self time:', summary.topSelf),
    ...entries('self time by area:', summary.selfByArea),
    ...entries('shadowramp functions by total time (callees included):', summary.topOwnTotal)
  ]
}

function sumOf<T> (items: T[], pick: (item: T) => number): number {
  return items.reduce((sum, item) => sum + pick(item), 0)
}

function sumValues (totals: Record<string, number>): number {
  return Object.values(totals).reduce((sum, value) => sum + value, 0)
}

function addTotals (list: Array<Record<string, number>>): Record<string, number> {
  const totals: Record<string, number> = {}
  for (const each of list) {
    for (const [key, value] of Object.entries(each)) totals[key] = (totals[key] ?? 0) + value
  }

  return totals
}

function formatMb (bytes: number): string {
  return `${formatNumber(bytes / 2 ** 20, 1)} MiB`
}

/** The figures in turns for the results file: each slice's p99 or rate rather than every latency. */
function describeSlices (interleaved: Interleaved): Record<string, unknown> {
  const fixed = Object.entries(interleaved.fixed).map(([name, pooled]) => {
    const { slices, ...figures } = pooled as PooledLatency
    return [name, { ...figures, sliceP99Ms: sliceP99s(pooled as PooledLatency) }]
  })
  const closed = Object.entries(interleaved.closed).map(([name, pooled]) => {
    const { slices, ...figures } = pooled as PooledThroughput
    return [name, { ...figures, sliceRequestsPerSecond: sliceRates(pooled as PooledThroughput) }]
  })

  return { fixed: Object.fromEntries(fixed), closed: Object.fromEntries(closed) }
}

function sliceP99s (pooled: PooledLatency): number[] {
  return pooled.slices.map((slice) => percentile(slice, 0.99))
}

function sliceRates (pooled: PooledThroughput): number[] {
  return pooled.slices.map((slice) => slice.answered / slice.seconds)
}

async function saveFigures (figures: Record<string, unknown>): Promise<void> {
  const file = await writeResults('shadow-cost', figures)
  process.stdout.write(`raw figures: ${relative(process.cwd(), file)}\n`)
}
