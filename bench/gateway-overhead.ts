/**
 * Gateway overhead: what putting the gateway in front of a backend costs.
 *
 * One upstream, measured two ways in the same run: directly, and through
 * the gateway at percentage 0 (the baseline serves; both backends point at
 * the same upstream). Rounds alternate the order of the two, so a machine
 * that slows down during the run slows both alike; the table shows medians
 * across rounds. See bench/README.md for how to read the figures.
 *
 *   node --initial-old-space-size=256 --import tsx bench/gateway-overhead.ts [--quick] [--rounds 3]
 *     [--seconds 5] [--connections 16] [--rate 1000]
 */
import { relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { loadOptions, readWhole, settingsOrExit } from './lib/bench-options.js'
import { measureClosedLoop, type ClosedLoopResult } from './lib/closed-loop.js'
import { changeBetween, readGatewayMetrics, type GatewayMetricsSummary } from './lib/gateway-metrics.js'
import { startGateway, type RunningGateway } from './lib/gateway-process.js'
import { median } from './lib/latency-stats.js'
import { requireLoopback } from './lib/loopback.js'
import { measureOpenLoop, type OpenLoopResult } from './lib/open-loop.js'
import type { ProcessLogSummary } from './lib/process-log.js'
import { countOpenFiles, measureCpu, readRssMb } from './lib/process-usage.js'
import { writeResults } from './lib/results-file.js'
import { runBench } from './lib/run-guard.js'
import { formatNumber, formatSigned, formatTable } from './lib/text-table.js'
import { startUpstream, type RunningUpstream } from './lib/upstream-process.js'

type Target = 'direct' | 'gateway'
type ProcessName = 'generator' | 'upstream' | 'gateway'

interface Settings {
  rounds: number
  /** Length of each measured phase (closed loop, then open loop). */
  phaseSeconds: number
  warmUpSeconds: number
  /** Closed-loop connections. */
  connections: number
  /** Upper bound on connections of the open-loop sender. */
  openConnections: number
  /** The open-loop rate is half the gateway's saturated rate, capped here. */
  maxRate: number
}

/** Where the load goes, and whose CPU time is read around each phase. */
interface Setup {
  targets: Record<Target, string>
  pids: Record<ProcessName, number>
  rate: number
  settings: Settings
}

interface TargetFigures {
  closed: ClosedLoopResult
  /** CPU ms each process used during the closed loop; null where unknown. */
  closedCpuMs: Record<string, number | null>
  open: OpenLoopResult
  openCpuMs: Record<string, number | null>
}

interface Round {
  round: number
  order: Target[]
  direct: TargetFigures
  gateway: TargetFigures
}

interface GatewaySnapshot {
  metrics: GatewayMetricsSummary
  rssMb: number | undefined
  openFiles: number | undefined
}

interface BeforeAndAfter {
  before: number | undefined
  after: number | undefined
}

/** The gateway's own view of the measured rounds (warm-up excluded). */
interface GatewayHealth {
  metrics: GatewayMetricsSummary
  /** After warm-up and after the last round: a leak shows as growth. */
  rssMb: BeforeAndAfter
  openFiles: BeforeAndAfter
}

interface Medians {
  closedRequestsPerSecond: number
  closedP50Ms: number
  closedP99Ms: number
  openP50Ms: number
  openP99Ms: number
  openAchievedRate: number
  /** The worst open-loop latency of any round, not a median. */
  openWorstMs: number
  /** How late the generator sent, p99: when high, it was starved of CPU. */
  openSendLagP99Ms: number
  /** CPU µs per answered request during the closed loop, per process. */
  closedCpuUsPerRequest: Record<ProcessName, number>
  /** Totals over all rounds: failed requests, and answers that were not 2xx. */
  errors: number
  non2xx: number
}

/** The two median columns compared; per-round ratios show the spread behind them. */
interface Comparison {
  direct: Medians
  gateway: Medians
  throughputRatio: number
  closedP50DiffMs: number
  closedP99DiffMs: number
  openP50DiffMs: number
  openP99DiffMs: number
  throughputRatioPerRound: number[]
}

const usage = 'usage: node --initial-old-space-size=256 --import tsx bench/gateway-overhead.ts [--quick] [--rounds 3..15] ' +
  '[--seconds 1..30] [--connections 1..256] [--rate 50..20000]'
const feedPath = '/feed/videos?limit=20'
const settleMs = 250
const lowestRate = 50

const settings = settingsOrExit(() => readSettings(process.argv.slice(2)), usage)
runBench(async () => await measureGatewayOverhead(settings), deadlineMs(settings))

async function measureGatewayOverhead (settings: Settings): Promise<void> {
  announcePlan(settings)
  const upstream = await startUpstream()
  let gateway: RunningGateway | undefined
  let setup: Setup
  let rounds: Round[]
  let health: GatewayHealth
  try {
    gateway = await startGateway({ baselineUrl: upstream.url, candidateUrl: upstream.url, percentage: 0 })
    setup = await prepare(upstream, gateway, settings)
    const before = await observeGateway(gateway)
    rounds = await measureRounds(setup)
    health = describeHealth(before, await observeGateway(gateway))
  } finally {
    await gateway?.stop()
    await upstream.stop()
  }

  const comparison = compareRounds(rounds)
  printComparison(comparison, setup)
  printHealth(health, gateway.log())
  await saveFigures({
    settings,
    rate: setup.rate,
    upstreamBytes: upstream.bytes,
    rounds,
    comparison,
    gateway: { ...health, log: gateway.log() }
  })
}

function readSettings (args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: { ...loadOptions, connections: { type: 'string' } }
  })
  const quick = values.quick === true

  return {
    rounds: readWhole('--rounds', values.rounds, 3, 3, 15),
    phaseSeconds: readWhole('--seconds', values.seconds, quick ? 2 : 5, 1, 30),
    warmUpSeconds: quick ? 1 : 2,
    connections: readWhole('--connections', values.connections, 16, 1, 256),
    openConnections: 32,
    maxRate: readWhole('--rate', values.rate, 1_000, lowestRate, 20_000)
  }
}

function plannedSeconds (settings: Settings): number {
  const perTarget = 2 * settings.phaseSeconds + (2 * settleMs) / 1_000
  const startingUp = 3

  return startingUp + 2 * settings.warmUpSeconds + settings.rounds * 2 * perTarget
}

/** Room for start-up and the open loop's drain, then a hard stop. */
function deadlineMs (settings: Settings): number {
  return Math.round((plannedSeconds(settings) * 1.5 + 30) * 1_000)
}

function announcePlan (settings: Settings): void {
  const seconds = Math.round(plannedSeconds(settings))
  const hardStop = Math.round(deadlineMs(settings) / 1_000)
  const plan = `${settings.rounds} rounds, about ${seconds} s (hard stop after ${hardStop} s)`
  process.stderr.write(`gateway overhead: ${plan}\n`)
}

/** Checks both paths, warms everything up and fixes the open-loop rate. */
async function prepare (upstream: RunningUpstream, gateway: RunningGateway, settings: Settings): Promise<Setup> {
  const targets = { direct: upstream.url + feedPath, gateway: gateway.url + feedPath }
  await checkTarget('direct', targets.direct, upstream.bytes, undefined)
  await checkTarget('gateway', targets.gateway, upstream.bytes, 'baseline')
  const rate = await warmUp(targets, settings)
  const pids = { generator: process.pid, upstream: upstream.pid, gateway: gateway.pid }

  return { targets, pids, rate, settings }
}

/** One request before any load: the whole feed, from the expected backend. */
async function checkTarget (target: Target, url: string, bytes: number, servedBy: string | undefined): Promise<void> {
  const answer = await fetchOnce(url)
  if (answer.status === 200 && answer.bytes === bytes && answer.servedBy === servedBy) return

  const expected = `200 with ${bytes} bytes${servedBy === undefined ? '' : ` served by ${servedBy}`}`
  throw new Error(`${target} check failed: ${url} answered ${JSON.stringify(answer)}, expected ${expected}`)
}

async function fetchOnce (url: string): Promise<{ status: number, bytes: number, servedBy: string | undefined }> {
  const target = requireLoopback(url)
  const client = new Client(target.origin, { headersTimeout: 5_000, bodyTimeout: 5_000 })
  try {
    const path = target.pathname + target.search
    const { statusCode, headers, body } = await client.request({ method: 'GET', path })
    const bytes = (await body.arrayBuffer()).byteLength
    const servedBy = headers['x-served-by']

    return { status: statusCode, bytes, servedBy: Array.isArray(servedBy) ? servedBy[0] : servedBy }
  } finally {
    await client.close()
  }
}

/**
 * Wakes up the JIT in all three processes before anything counts, and
 * picks the open-loop rate: half of what the gateway saturates at leaves
 * it room, so that rate measures added latency rather than queueing.
 */
async function warmUp (targets: Record<Target, string>, settings: Settings): Promise<number> {
  const closed = { connections: settings.connections, durationSeconds: settings.warmUpSeconds }
  await measureClosedLoop({ url: targets.direct, ...closed })
  const saturated = (await measureClosedLoop({ url: targets.gateway, ...closed })).requestsPerSecond
  await sleep(settleMs)

  const half = Math.floor(saturated / 2 / lowestRate) * lowestRate
  const rate = Math.min(settings.maxRate, Math.max(half, lowestRate))
  const note = `gateway saturates near ${formatNumber(saturated)} req/s; open loop at ${formatNumber(rate)} req/s`
  process.stderr.write(`warm-up: ${note}\n`)

  return rate
}

async function measureRounds (setup: Setup): Promise<Round[]> {
  const rounds: Round[] = []
  for (let index = 0; index < setup.settings.rounds; index++) {
    rounds.push(await measureRound(index, setup))
  }

  return rounds
}

/** Odd rounds measure the direct path first, even rounds the gateway. */
async function measureRound (index: number, setup: Setup): Promise<Round> {
  const order: Target[] = index % 2 === 0 ? ['direct', 'gateway'] : ['gateway', 'direct']
  const figures: Partial<Record<Target, TargetFigures>> = {}
  for (const target of order) {
    figures[target] = await measureTarget(setup.targets[target], setup)
    reportProgress(`round ${index + 1}/${setup.settings.rounds} ${target.padEnd(7)}`, figures[target])
  }

  const { direct, gateway } = figures as Record<Target, TargetFigures>
  return { round: index + 1, order, direct, gateway }
}

async function measureTarget (url: string, setup: Setup): Promise<TargetFigures> {
  const { settings, pids } = setup
  const durationSeconds = settings.phaseSeconds
  const closed = await measureCpu(pids, async () => await measureClosedLoop({
    url, connections: settings.connections, durationSeconds
  }))
  await sleep(settleMs)

  const open = await measureCpu(pids, async () => await measureOpenLoop({
    url, ratePerSecond: setup.rate, durationSeconds, connections: settings.openConnections
  }))
  await sleep(settleMs)

  return { closed: closed.result, closedCpuMs: closed.cpuMs, open: open.result, openCpuMs: open.cpuMs }
}

function reportProgress (label: string, figures: TargetFigures): void {
  const { closed, open } = figures
  const ms = (value: number): string => formatNumber(value, 2)
  const closedPart = `closed ${formatNumber(closed.requestsPerSecond)} req/s p99 ${ms(closed.p99Ms)} ms`
  const openPart = `open p50 ${ms(open.p50Ms)} p99 ${ms(open.p99Ms)} ms`
  process.stderr.write(`${label} ${closedPart}; ${openPart}\n`)
}

/**
 * The comparison column is computed from the two median columns, so a
 * reader can check it; the per-round ratios (each round pairs figures
 * taken seconds apart) show how much the rounds agreed.
 */
function compareRounds (rounds: Round[]): Comparison {
  const direct = summarizeTarget(rounds.map((round) => round.direct))
  const gateway = summarizeTarget(rounds.map((round) => round.gateway))
  const roundRatio = (round: Round): number =>
    round.gateway.closed.requestsPerSecond / round.direct.closed.requestsPerSecond

  return {
    direct,
    gateway,
    throughputRatio: gateway.closedRequestsPerSecond / direct.closedRequestsPerSecond,
    closedP50DiffMs: gateway.closedP50Ms - direct.closedP50Ms,
    closedP99DiffMs: gateway.closedP99Ms - direct.closedP99Ms,
    openP50DiffMs: gateway.openP50Ms - direct.openP50Ms,
    openP99DiffMs: gateway.openP99Ms - direct.openP99Ms,
    throughputRatioPerRound: rounds.map(roundRatio)
  }
}

function summarizeTarget (figures: TargetFigures[]): Medians {
  const closed = figures.map((each) => each.closed)
  const open = figures.map((each) => each.open)
  const cpu = (name: ProcessName): number => median(figures.map((each) => cpuUsPerRequest(each, name)))
  const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0)

  return {
    closedRequestsPerSecond: median(closed.map((each) => each.requestsPerSecond)),
    closedP50Ms: median(closed.map((each) => each.p50Ms)),
    closedP99Ms: median(closed.map((each) => each.p99Ms)),
    openP50Ms: median(open.map((each) => each.p50Ms)),
    openP99Ms: median(open.map((each) => each.p99Ms)),
    openAchievedRate: median(open.map((each) => each.achievedRate)),
    openWorstMs: Math.max(...open.map((each) => each.maxMs)),
    openSendLagP99Ms: median(open.map((each) => each.sendLagP99Ms)),
    closedCpuUsPerRequest: {
      generator: cpu('generator'), upstream: cpu('upstream'), gateway: cpu('gateway')
    },
    errors: sum(closed.map((each) => each.errors)) + sum(open.map((each) => each.errors + each.unfinished)),
    non2xx: sum(closed.map((each) => each.non2xx)) + sum(open.map((each) => each.non2xx))
  }
}

function cpuUsPerRequest (figures: TargetFigures, name: ProcessName): number {
  const cpuMs = figures.closedCpuMs[name]
  if (cpuMs === null || cpuMs === undefined) return Number.NaN

  return (cpuMs * 1_000) / figures.closed.responses
}

function printComparison (comparison: Comparison, setup: Setup): void {
  const { rounds, connections, phaseSeconds } = setup.settings
  const perRound = comparison.throughputRatioPerRound.map((value) => formatNumber(value, 2)).join(', ')
  const heading = `gateway overhead, median of ${rounds} rounds: closed loop ${connections} connections` +
    ` × ${phaseSeconds} s, open loop ${formatNumber(setup.rate)} req/s × ${phaseSeconds} s`

  process.stdout.write(`\n${heading}\n\n${formatTable(comparisonRows(comparison))}\n\n`)
  process.stdout.write(`req/s ratio per round: ${perRound}\n`)
}

function comparisonRows (comparison: Comparison): string[][] {
  const { direct, gateway } = comparison
  const ms = (value: number): string => formatNumber(value, 2)
  const whole = (value: number): string => formatNumber(value)
  const both = (pick: (medians: Medians) => number, format: (value: number) => string): string[] =>
    [format(pick(direct)), format(pick(gateway))]
  const ratio = `×${formatNumber(comparison.throughputRatio, 2)}`
  const failures = (medians: Medians): string => `${medians.errors} / ${medians.non2xx}`

  return [
    ['', 'direct', 'gateway', 'gateway vs direct'],
    ['closed loop req/s', ...both((m) => m.closedRequestsPerSecond, whole), ratio],
    ['closed loop p50 ms', ...both((m) => m.closedP50Ms, ms), formatSigned(comparison.closedP50DiffMs)],
    ['closed loop p99 ms', ...both((m) => m.closedP99Ms, ms), formatSigned(comparison.closedP99DiffMs)],
    ['open loop p50 ms', ...both((m) => m.openP50Ms, ms), formatSigned(comparison.openP50DiffMs)],
    ['open loop p99 ms', ...both((m) => m.openP99Ms, ms), formatSigned(comparison.openP99DiffMs)],
    ['open loop worst ms (any round)', ...both((m) => m.openWorstMs, ms), ''],
    ['open loop achieved req/s', ...both((m) => m.openAchievedRate, whole), ''],
    ['open loop send lag p99 ms', ...both((m) => m.openSendLagP99Ms, ms), ''],
    ['CPU µs/request: upstream', ...both((m) => m.closedCpuUsPerRequest.upstream, whole), ''],
    ['CPU µs/request: gateway', '', whole(gateway.closedCpuUsPerRequest.gateway), ''],
    ['CPU µs/request: load generator', ...both((m) => m.closedCpuUsPerRequest.generator, whole), ''],
    ['errors / non-2xx (all rounds)', failures(direct), failures(gateway), '']
  ]
}

async function observeGateway (gateway: RunningGateway): Promise<GatewaySnapshot> {
  const metrics = await readGatewayMetrics(gateway.adminUrl)

  return { metrics, rssMb: readRssMb(gateway.pid), openFiles: countOpenFiles(gateway.pid) }
}

function describeHealth (before: GatewaySnapshot, after: GatewaySnapshot): GatewayHealth {
  return {
    metrics: changeBetween(before.metrics, after.metrics),
    rssMb: { before: before.rssMb, after: after.rssMb },
    openFiles: { before: before.openFiles, after: after.openFiles }
  }
}

function printHealth (health: GatewayHealth, log: ProcessLogSummary): void {
  const { metrics, rssMb, openFiles } = health
  const lagMaxMs = formatNumber(metrics.eventLoopLagMaxMs ?? Number.NaN)
  const shown = (value: number | undefined): string => value === undefined ? 'n/a' : String(value)
  const lines = [
    `gateway during the rounds: requests served by ${listTotals(metrics.requestsByServedBy, 0)}; ` +
      `fallbacks ${metrics.fallbacks}`,
    `  GC seconds ${listTotals(metrics.gcSecondsByKind, 2)}; event-loop delay max ${lagMaxMs} ms`,
    `  after warm-up → after the last round: RSS ${shown(rssMb.before)} → ${shown(rssMb.after)} MB, ` +
      `open descriptors ${shown(openFiles.before)} → ${shown(openFiles.after)}`,
    `  log lines: ${listTotals(log.counts, 0)}`,
    ...log.notable.map((entry) => `  ${entry.level} ×${entry.count}: ${entry.msg}`)
  ]

  process.stdout.write(`${lines.join('\n')}\n`)
}

/** `{ minor: 1.2, major: 0.3 }` as "1.20 minor, 0.30 major". */
function listTotals (totals: Record<string, number>, decimals: number): string {
  const parts = Object.entries(totals).map(([key, value]) => `${formatNumber(value, decimals)} ${key}`)

  return parts.length === 0 ? 'none' : parts.join(', ')
}

async function saveFigures (figures: Record<string, unknown>): Promise<void> {
  const file = await writeResults('gateway-overhead', figures)
  process.stdout.write(`raw figures: ${relative(process.cwd(), file)}\n`)
}
