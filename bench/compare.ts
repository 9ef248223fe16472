/**
 * shadowramp against nginx, side by side in one run: what a team gives up
 * (or gains) by putting shadowramp where an nginx with its mirror module
 * could stand.
 *
 * Everything runs on 127.0.0.1 and is started here: the upstream serving
 * the realistic ~20 KB feed, a shadow upstream answering with a few
 * differences (and a second one 200 ms slow, and a port that refuses
 * connections), a private Redis, nginx (Debian's, installed with apt-get
 * when missing) and the built gateway. The targets:
 *
 *   direct             the upstream itself
 *   nginxProxy         nginx proxy_pass, one worker process
 *   nginxMirror        the same with `mirror` to the shadow upstream
 *   shadowramp         the gateway at percentage 0, no mirror
 *   shadowrampMirror   the gateway mirroring and queueing every request,
 *                      a diff worker (at nice 19) draining its queue
 *
 * Each round measures every target with a closed loop (saturation) and at
 * a fixed rate (half of nginx mirror's saturated rate), and both mirroring
 * designs at that rate with the shadow slow and refusing connections; the
 * order rotates from round to round. After the rounds, one and then two
 * diff worker processes drain backlogs of pairs. One table of medians and
 * verdicts goes to stdout, the raw figures to bench/results/.
 *
 *   npm run bench [-- --quick] [--rounds 3] [--seconds 5] [--rate N]
 *     [--profile shadowramp|shadowrampMirror]
 */
import { mkdtemp, readdir } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { loadOptions, readWhole, settingsOrExit } from './lib/bench-options.js'
import { drainBacklog } from './lib/backlog-drain.js'
import { measureClosedLoop } from './lib/closed-loop.js'
import {
  faultNames, summarizeRounds, targetNames,
  type ClosedFigures, type DrainRound, type FaultName, type FixedFigures, type PhaseCpu,
  type PhaseFigures, type PhaseName, type Round, type TargetName, type WorkerCatchUp
} from './lib/compare-figures.js'
import { judgeComparison, printComparison } from './lib/compare-report.js'
import { summarizeGatewayProfile, type GatewayProfileSummary } from './lib/gateway-cpu-profile.js'
import { startGateway, type RunningGateway } from './lib/gateway-process.js'
import { requireLoopback } from './lib/loopback.js'
import { ensureNginx, findNginx, startNginx, type NginxInstall, type RunningNginx } from './lib/nginx-process.js'
import { measureOpenLoop, type OpenLoopResult } from './lib/open-loop.js'
import { PairQueueWatch } from './lib/pair-queue-watch.js'
import { measureCpu } from './lib/process-usage.js'
import { QueuedPairs } from './lib/queued-pairs.js'
import { startPrivateRedis, type PrivateRedis } from './lib/redis-server.js'
import { writeResults } from './lib/results-file.js'
import { runBench } from './lib/run-guard.js'
import {
  readShadowMetrics, shadowChangeBetween, type ShadowMetricsChange, type ShadowMetricsReading
} from './lib/shadow-metrics.js'
import { reserveLoopbackPort, tracePeakConnections } from './lib/socket-count.js'
import { formatNumber } from './lib/text-table.js'
import { startUpstream, type RunningUpstream } from './lib/upstream-process.js'
import { openWorkerBench } from './lib/worker-bench.js'
import { startWorker, type RunningWorker } from './lib/worker-process.js'

type Profiled = 'shadowramp' | 'shadowrampMirror'
type GatewayName = 'plain' | 'mirror' | 'slow' | 'refused'
type NginxName = 'proxy' | 'mirror' | 'slow' | 'refused'

interface Settings {
  rounds: number
  closedSeconds: number
  openSeconds: number
  warmUpSeconds: number
  probeSeconds: number
  connections: number
  openConnections: number
  /** The fixed rate when given; otherwise half of nginx mirror's saturated rate. */
  rate: number | undefined
  /** Pairs in each backlog the diff workers drain, and how many times each count drains one. */
  backlogPairs: number
  drainRounds: number
  profile: Profiled | undefined
  /** Added to the deadline when nginx has to be installed first. */
  installSeconds: number
}

/** Where a phase sends its load, whose CPU time is its own, and what it mirrors to. */
interface Endpoint {
  url: string
  ownPids: () => number[]
  gateway?: RunningGateway
  /** The port of the shadow upstream, whose connections are counted from the target's processes. */
  shadowPort?: number
  connectionPids?: () => number[]
}

interface Upstreams {
  live: RunningUpstream
  shadow: RunningUpstream
  slowShadow: RunningUpstream
  closedPort: number
}

/** Everything the rounds run against, started once. */
interface Rig {
  settings: Settings
  install: NginxInstall
  redis: PrivateRedis
  upstreams: Upstreams
  nginx: Partial<Record<NginxName, RunningNginx>>
  gateways: Partial<Record<GatewayName, RunningGateway>>
  worker: RunningWorker | undefined
  /** The mirroring gateway's queue and its worker's counts. */
  mirrorWatch: PairQueueWatch | undefined
  queuedPairs: QueuedPairs
  endpoints: Partial<Record<PhaseName, Endpoint>>
  rate: number
  nginxMirrorSaturated: number
  loadAverage: { start: number, end: number }
  profileDir: string | undefined
}

const usage = 'usage: npm run bench -- [--quick] [--rounds 3..15] [--seconds 1..30] ' +
  '[--rate 50..20000] [--profile shadowramp|shadowrampMirror]'
const route = 'feed'
const feedPath = '/feed/videos?limit=20'
const settleMs = 250
const connectionSampleMs = 250
const lowestRate = 50
const slowShadowMs = 200
/** Fault phases wait this long for answers after the last send; nginx's slow mirror leaves many. */
const faultDrainMs = 2_000
/**
 * The healthy mirroring gateway's cap on shadow requests in flight. At
 * saturation the gateway's own event loop delays shadow answers, the
 * default cap of 64 is reached, and the budget guard halves the shadow
 * rate: "every request" would then mirror fewer the busier it is. The
 * gateways with a misbehaving shadow keep the default, which is what
 * they are judged on.
 */
const throughputMaxInFlight = 512
const everyRequest = { sampleRate: 100, maxPerSecond: 1_000_000 }
/** How long a phase of the mirroring gateway waits for its worker before emptying the queue. */
const workerCatchUpMs = 30_000
/** Nice value of the diff worker: diffing runs elsewhere in production, not on the gateway's cores. */
const workerNiceness = 19

const settings = settingsOrExit(() => readSettings(process.argv.slice(2)), usage)
runBench(async () => await compareWithNginx(settings), deadlineMs(settings))

async function compareWithNginx (settings: Settings): Promise<void> {
  announcePlan(settings)
  const install = await ensureNginx((line) => process.stderr.write(`${line}\n`))
  const rig = await startRig(settings, install)
  let rounds: Round[]
  let drains: DrainRound[]
  try {
    await warmUp(rig)
    rounds = await measureRounds(rig)
    rig.loadAverage.end = loadavg()[0] ?? Number.NaN
    await stopServers(rig)
    drains = await measureDrains(rig)
  } finally {
    await stopRig(rig)
  }

  await report(rig, rounds, drains)
}

function readSettings (args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: { ...loadOptions, profile: { type: 'string' } }
  })
  const quick = values.quick === true
  const seconds = readWhole('--seconds', values.seconds, quick ? 2 : 5, 1, 30)

  return {
    rounds: readWhole('--rounds', values.rounds, 3, 3, 15),
    closedSeconds: seconds,
    openSeconds: seconds,
    warmUpSeconds: quick ? 0.75 : 1.5,
    probeSeconds: quick ? 2 : 3,
    connections: 16,
    openConnections: 64,
    rate: values.rate === undefined ? undefined : readWhole('--rate', values.rate, 0, lowestRate, 20_000),
    backlogPairs: quick ? 1_024 : 2_048,
    drainRounds: 3,
    profile: readProfiled(values.profile),
    installSeconds: findNginx() === undefined ? 300 : 0
  }
}

function readProfiled (text: string | undefined): Profiled | undefined {
  if (text === undefined) return undefined
  if (text === 'shadowramp' || text === 'shadowrampMirror') return text

  throw new Error(`--profile expects shadowramp or shadowrampMirror, found ${text}`)
}

/**
 * A rough plan: about 20 s to start, a warm-up of every endpoint, then per
 * round every target's two loops and the four fault phases, with a few
 * seconds for the worker to catch up after the mirroring gateway; then
 * the backlogs (each about 3 s, start and stop of the workers included).
 */
function plannedSeconds (settings: Settings): number {
  const settle = settleMs / 1_000
  const warmUp = 9 * (settings.warmUpSeconds + settle) + settings.probeSeconds + 5
  const targets = targetNames.length * (settings.closedSeconds + settings.openSeconds + 2 * settle)
  const faults = faultNames.length * (settings.openSeconds + settle) + faultDrainMs / 1_000
  const catchUp = settings.closedSeconds + settings.openSeconds
  const drains = settings.drainRounds * 2 * 3

  return 20 + warmUp + settings.rounds * (targets + faults + catchUp) + drains
}

/** Room for a busy machine, and for installing nginx; then a hard stop. */
function deadlineMs (settings: Settings): number {
  return Math.round((plannedSeconds(settings) * 1.5 + 30 + settings.installSeconds) * 1_000)
}

function announcePlan (settings: Settings): void {
  const seconds = Math.round(plannedSeconds(settings))
  const hardStop = Math.round(deadlineMs(settings) / 1_000)
  const plan = `${settings.rounds} rounds, about ${seconds} s (hard stop after ${hardStop} s)`
  const profiled = settings.profile === undefined ? '' : `; ${settings.profile} runs under --cpu-prof`
  process.stderr.write(`shadowramp vs nginx: ${plan}${profiled}\n`)
}

/**
 * Upstreams and Redis in parallel; then nginx and the gateways one after
 * the other, because each picks a free port before binding it and two
 * starting at once could pick the same one.
 */
async function startRig (settings: Settings, install: NginxInstall): Promise<Rig> {
  const profileDir = settings.profile === undefined
    ? undefined
    : await mkdtemp(join(tmpdir(), 'shadowramp-cpu-prof-'))
  const [redis, live, shadow, slowShadow, closedPort] = await Promise.all([
    startPrivateRedis(),
    startUpstream(),
    startUpstream({ withDifferences: true }),
    startUpstream({ withDifferences: true, delayMs: slowShadowMs }),
    reserveLoopbackPort()
  ])
  const rig: Rig = {
    settings,
    install,
    redis,
    upstreams: { live, shadow, slowShadow, closedPort },
    nginx: {},
    gateways: {},
    worker: undefined,
    mirrorWatch: undefined,
    queuedPairs: new QueuedPairs(redis.url),
    endpoints: {},
    rate: Number.NaN,
    nginxMirrorSaturated: Number.NaN,
    loadAverage: { start: loadavg()[0] ?? Number.NaN, end: Number.NaN },
    profileDir
  }

  try {
    await startTargets(rig)
  } catch (error) {
    await stopRig(rig)
    throw error
  }

  return rig
}

async function startTargets (rig: Rig): Promise<void> {
  const { live, shadow, slowShadow, closedPort } = rig.upstreams
  const refusedUrl = `http://127.0.0.1:${closedPort}`
  rig.nginx.proxy = await startOneNginx(rig, undefined)
  rig.nginx.mirror = await startOneNginx(rig, shadow.url)
  rig.nginx.slow = await startOneNginx(rig, slowShadow.url)
  rig.nginx.refused = await startOneNginx(rig, refusedUrl)

  const throughputMirror = { ...everyRequest, maxInFlight: throughputMaxInFlight }
  rig.gateways.plain = await startOneGateway(rig, shadow.url, undefined, 'shadowramp')
  rig.gateways.mirror = await startOneGateway(rig, shadow.url, throughputMirror, 'shadowrampMirror')
  rig.gateways.slow = await startOneGateway(rig, slowShadow.url, everyRequest, undefined)
  rig.gateways.refused = await startOneGateway(rig, refusedUrl, everyRequest, undefined)
  await startMirrorWorker(rig, rig.gateways.mirror)

  rig.endpoints = describeEndpoints(rig)
  process.stderr.write(`started: ${rig.install.version} ×4, gateway ×4, diff worker, Redis ${rig.redis.url}, ` +
    '3 upstreams\n')
}

async function startOneNginx (rig: Rig, mirrorUrl: string | undefined): Promise<RunningNginx> {
  return await startNginx({
    binary: rig.install.binary,
    upstreamUrl: rig.upstreams.live.url,
    mirrorUrl,
    readyPath: feedPath
  })
}

async function startOneGateway (
  rig: Rig, candidateUrl: string, mirror: Record<string, unknown> | undefined, name: Profiled | undefined
): Promise<RunningGateway> {
  const profiled = name !== undefined && name === rig.settings.profile && rig.profileDir !== undefined
  const nodeArgs = profiled ? ['--cpu-prof', '--cpu-prof-dir', rig.profileDir ?? ''] : []

  return await startGateway({
    baselineUrl: rig.upstreams.live.url,
    candidateUrl,
    percentage: 0,
    extraRoute: mirror === undefined ? {} : { mirror },
    redisUrl: rig.redis.url,
    nodeArgs,
    startTimeoutMs: 40_000
  })
}

/** The diff worker of the mirroring gateway's queue, at nice 19, and a watch on what it counted. */
async function startMirrorWorker (rig: Rig, gateway: RunningGateway): Promise<void> {
  const { namespace } = gateway
  rig.mirrorWatch = new PairQueueWatch(rig.redis.url, namespace, route)
  rig.worker = await startWorker({ redisUrl: rig.redis.url, namespace, route, niceness: workerNiceness })
}

function describeEndpoints (rig: Rig): Partial<Record<PhaseName, Endpoint>> {
  const { nginx, gateways, upstreams } = rig
  const slowPort = Number(new URL(upstreams.slowShadow.url).port)
  const ofNginx = (one: RunningNginx | undefined, shadowPort?: number): Endpoint => ({
    url: one?.url ?? '',
    ownPids: () => one?.pids() ?? [],
    shadowPort,
    connectionPids: () => one?.workerPids() ?? []
  })
  const ofGateway = (one: RunningGateway | undefined, shadowPort?: number): Endpoint => ({
    url: one?.url ?? '',
    ownPids: () => [one?.pid ?? 0],
    gateway: one,
    shadowPort,
    connectionPids: () => [one?.pid ?? 0]
  })

  return {
    direct: { url: upstreams.live.url, ownPids: () => [upstreams.live.pid] },
    nginxProxy: ofNginx(nginx.proxy),
    nginxMirror: ofNginx(nginx.mirror),
    shadowramp: ofGateway(gateways.plain),
    shadowrampMirror: ofGateway(gateways.mirror),
    nginxSlow: ofNginx(nginx.slow, slowPort),
    nginxRefused: ofNginx(nginx.refused, upstreams.closedPort),
    shadowrampSlow: ofGateway(gateways.slow, slowPort),
    shadowrampRefused: ofGateway(gateways.refused, upstreams.closedPort)
  }
}

/** The servers under load; what they leave in Redis goes with them. Safe to call twice. */
async function stopServers (rig: Rig): Promise<void> {
  await rig.worker?.stop()
  await Promise.all(Object.values(rig.gateways).map(async (gateway) => await gateway.stop()))
  await rig.mirrorWatch?.close()
  await Promise.all(Object.values(rig.nginx).map(async (nginx) => await nginx.stop()))
  const { live, shadow, slowShadow } = rig.upstreams
  await Promise.all([live, shadow, slowShadow].map(async (upstream) => await upstream.stop()))
}

async function stopRig (rig: Rig): Promise<void> {
  await stopServers(rig)
  await rig.queuedPairs.close()
  await rig.redis.stop()
}

/**
 * Checks that every endpoint answers with the whole feed, wakes up the JIT
 * in each, then fixes the rate: half of what nginx mirror saturates at,
 * warm, unless --rate gave one.
 */
async function warmUp (rig: Rig): Promise<void> {
  const closed = { connections: rig.settings.connections, durationSeconds: rig.settings.warmUpSeconds }
  for (const name of [...targetNames, ...faultNames]) {
    const endpoint = requireEndpoint(rig, name)
    await checkEndpoint(name, endpoint, rig.upstreams.live.bytes)
    await measureClosedLoop({ url: endpoint.url + feedPath, ...closed })
    await sleep(settleMs)
    await afterPhase(name, rig)
  }

  const probeUrl = requireEndpoint(rig, 'nginxMirror').url + feedPath
  const probeSeconds = rig.settings.probeSeconds
  const probe = await measureClosedLoop({ url: probeUrl, ...closed, durationSeconds: probeSeconds })
  rig.nginxMirrorSaturated = probe.requestsPerSecond
  rig.rate = rig.settings.rate ?? chooseRate(probe.requestsPerSecond)
  const saturated = `nginx mirror saturates near ${formatNumber(probe.requestsPerSecond)} req/s`
  process.stderr.write(`warm-up: ${saturated}; fixed rate ${formatNumber(rig.rate)} req/s\n`)
  await sleep(settleMs)
}

function chooseRate (saturated: number): number {
  const half = Math.floor(saturated / 2 / lowestRate) * lowestRate

  return Math.max(half, lowestRate)
}

function requireEndpoint (rig: Rig, name: PhaseName): Endpoint {
  const endpoint = rig.endpoints[name]
  if (endpoint === undefined) throw new Error(`no endpoint for ${name}`)

  return endpoint
}

/** One request before any load: the whole feed, and from the baseline where a gateway says who served. */
async function checkEndpoint (name: PhaseName, endpoint: Endpoint, bytes: number): Promise<void> {
  const target = requireLoopback(endpoint.url + feedPath)
  const client = new Client(target.origin, { headersTimeout: 5_000, bodyTimeout: 5_000 })
  try {
    const path = target.pathname + target.search
    const { statusCode, headers, body } = await client.request({ method: 'GET', path })
    const received = (await body.arrayBuffer()).byteLength
    const servedBy = headers['x-served-by']
    const fromBaseline = endpoint.gateway === undefined || servedBy === 'baseline'
    if (statusCode === 200 && received === bytes && fromBaseline) return

    const found = `${statusCode} with ${received} bytes (x-served-by ${String(servedBy)})`
    throw new Error(`${name} check failed: ${found}, expected 200 with ${bytes} bytes`)
  } finally {
    await client.close()
  }
}

async function measureRounds (rig: Rig): Promise<Round[]> {
  const rounds: Round[] = []
  for (let index = 0; index < rig.settings.rounds; index++) rounds.push(await measureRound(index, rig))

  return rounds
}

/**
 * Every phase once, in an order that rotates by three places a round, so
 * that no target is always first or always right after the mirroring
 * gateway (whose worker may still be finishing).
 */
async function measureRound (index: number, rig: Rig): Promise<Round> {
  const phases: PhaseName[] = [...targetNames, ...faultNames]
  const shift = (index * 3) % phases.length
  const order = [...phases.slice(shift), ...phases.slice(0, shift)]
  const round: Round = { round: index + 1, order, phases: {} }

  for (const name of order) {
    const figures = await measurePhase(name, rig)
    round.phases[name] = figures
    reportPhase(`round ${index + 1}/${rig.settings.rounds} ${name}`, figures)
  }

  return round
}

async function measurePhase (name: PhaseName, rig: Rig): Promise<PhaseFigures> {
  const isTarget = (targetNames as PhaseName[]).includes(name)
  const closed = isTarget ? await measureClosed(name as TargetName, rig) : undefined
  const fixed = await measureFixed(name, rig)

  return closed === undefined ? { fixed } : { closed, fixed }
}

async function measureClosed (name: TargetName, rig: Rig): Promise<ClosedFigures> {
  const endpoint = requireEndpoint(rig, name)
  const before = await readShadow(endpoint)
  const measured = await measureCpu(processIds(endpoint, rig), async () => await measureClosedLoop({
    url: endpoint.url + feedPath,
    connections: rig.settings.connections,
    durationSeconds: rig.settings.closedSeconds
  }))
  await sleep(settleMs)
  const shadow = await shadowSince(endpoint, before)
  const worker = await afterPhase(name, rig)

  const cpu = ownCpu(measured.cpuMs)
  return { result: measured.result, cpu, ...optional({ shadow, worker }) }
}

async function measureFixed (name: PhaseName, rig: Rig): Promise<FixedFigures> {
  const endpoint = requireEndpoint(rig, name)
  const isFault = (faultNames as PhaseName[]).includes(name)
  const before = await readShadow(endpoint)
  const load = async (): Promise<OpenLoopResult> => await measureOpenLoop({
    url: endpoint.url + feedPath,
    ratePerSecond: rig.rate,
    durationSeconds: rig.settings.openSeconds,
    connections: rig.settings.openConnections,
    ...(isFault ? { drainMs: faultDrainMs } : {})
  })
  const traced = await traceShadowConnections(endpoint, async () =>
    await measureCpu(processIds(endpoint, rig), load))
  await sleep(settleMs)
  const shadow = await shadowSince(endpoint, before)
  const worker = await afterPhase(name, rig)

  const { result, cpuMs } = traced.result
  const cpu = ownCpu(cpuMs)
  return { result, cpu, ...optional({ shadow, worker, shadowConnectionsPeak: traced.peak }) }
}

async function traceShadowConnections<T> (
  endpoint: Endpoint, phase: () => Promise<T>
): Promise<{ result: T, peak: number | undefined }> {
  const { shadowPort, connectionPids } = endpoint
  if (shadowPort === undefined || connectionPids === undefined) {
    return { result: await phase(), peak: undefined }
  }

  return await tracePeakConnections(connectionPids, shadowPort, connectionSampleMs, phase)
}

/** Keys whose value is undefined are left out, so the raw figures carry no empty fields. */
function optional<T extends Record<string, unknown>> (values: T): Partial<T> {
  const entries = Object.entries(values).filter(([, value]) => value !== undefined)

  return Object.fromEntries(entries) as Partial<T>
}

async function readShadow (endpoint: Endpoint): Promise<ShadowMetricsReading | undefined> {
  if (endpoint.gateway === undefined) return undefined

  return await readShadowMetrics(endpoint.gateway.adminUrl)
}

async function shadowSince (
  endpoint: Endpoint, before: ShadowMetricsReading | undefined
): Promise<ShadowMetricsChange | undefined> {
  const after = await readShadow(endpoint)
  if (before === undefined || after === undefined) return undefined

  return shadowChangeBetween(before, after)
}

/**
 * Leaves the next phase an idle machine and an empty queue: the mirroring
 * gateway's worker is given time to judge every pair queued (it would
 * otherwise take CPU from whichever target comes next); the gateways with
 * a misbehaving shadow have no worker, and their pairs are deleted.
 */
async function afterPhase (name: PhaseName, rig: Rig): Promise<WorkerCatchUp | undefined> {
  if (name === 'shadowrampMirror') return await waitForWorker(rig)

  const gateway = rig.endpoints[name]?.gateway
  if (gateway !== undefined) await rig.queuedPairs.drop(gateway.namespace, ['pairs'])

  return undefined
}

/**
 * Until the worker has counted every pair the gateway queued, or
 * workerCatchUpMs; then the rest is deleted.
 */
async function waitForWorker (rig: Rig): Promise<WorkerCatchUp> {
  const gateway = rig.gateways.mirror
  const watch = rig.mirrorWatch
  if (gateway === undefined || watch === undefined) throw new Error('the mirroring gateway is not running')

  const started = performance.now()
  while (performance.now() - started < workerCatchUpMs) {
    const { enqueued } = await readShadowMetrics(gateway.adminUrl)
    const counted = await watch.countedPairs()
    if (counted >= enqueued) return { waitedMs: performance.now() - started, caughtUp: true }
    await sleep(100)
  }

  await rig.queuedPairs.drop(gateway.namespace, ['pairs'])
  return { waitedMs: performance.now() - started, caughtUp: false }
}

/**
 * Whose CPU time is read around a phase: the target's own processes
 * (prefixed own:), and the others sharing the cores with it.
 */
function processIds (endpoint: Endpoint, rig: Rig): Record<string, number> {
  const ids: Record<string, number> = {
    generator: process.pid,
    upstream: rig.upstreams.live.pid,
    shadow: rig.upstreams.shadow.pid,
    slowShadow: rig.upstreams.slowShadow.pid,
    redis: rig.redis.pid
  }
  if (rig.worker !== undefined) ids.worker = rig.worker.pid
  for (const pid of endpoint.ownPids()) ids[`own:${pid}`] = pid

  return ids
}

function ownCpu (byProcess: Record<string, number | null>): PhaseCpu {
  const own = Object.entries(byProcess).filter(([name]) => name.startsWith('own:'))
  const ownMs = own.some(([, ms]) => ms === null)
    ? null
    : own.reduce((sum, [, ms]) => sum + (ms ?? 0), 0)

  return { byProcess, ownMs }
}

function reportPhase (label: string, figures: PhaseFigures): void {
  const parts: string[] = []
  const closedRate = figures.closed?.result.requestsPerSecond
  if (closedRate !== undefined) parts.push(`closed ${formatNumber(closedRate)} req/s`)
  const { result, shadowConnectionsPeak } = figures.fixed
  const failures = result.errors + result.unfinished + result.non2xx
  parts.push(`fixed p50 ${formatNumber(result.p50Ms, 2)} p99 ${formatNumber(result.p99Ms, 2)} ` +
    `max ${formatNumber(result.maxMs, 1)} ms, ${failures} failed`)
  if (shadowConnectionsPeak !== undefined) parts.push(`shadow connections ≤ ${shadowConnectionsPeak}`)
  const waited = figures.fixed.worker ?? figures.closed?.worker
  if (waited !== undefined) parts.push(`worker caught up in ${formatNumber(waited.waitedMs)} ms`)
  process.stderr.write(`${label.padEnd(32)} ${parts.join('; ')}\n`)
}

/**
 * One and two worker processes draining backlogs on the same Redis, the
 * order alternating from round to round. The gateways are stopped by
 * now: the workers have the machine to themselves, as in worker-throughput.
 */
async function measureDrains (rig: Rig): Promise<DrainRound[]> {
  const opened = await openWorkerBench(rig.redis.url, route)
  const drains: DrainRound[] = []
  try {
    for (let index = 0; index < rig.settings.drainRounds; index++) {
      const pairs = rig.settings.backlogPairs
      const drain = async (workers: number): Promise<DrainRound['one']> =>
        await drainBacklog(opened.bench, { pairs, workers, label: `r${index + 1}-${workers}` })
      const oneFirst = index % 2 === 0
      const first = await drain(oneFirst ? 1 : 2)
      const second = await drain(oneFirst ? 2 : 1)
      const [one, two] = oneFirst ? [first, second] : [second, first]
      drains.push({ round: index + 1, one, two })
      process.stderr.write(`drain ${index + 1}/${rig.settings.drainRounds}: 1 worker ` +
        `${formatNumber(one.pairsPerSecond)} pairs/s, 2 workers ${formatNumber(two.pairsPerSecond)} pairs/s\n`)
    }
  } finally {
    await opened.close()
  }

  return drains
}

async function report (rig: Rig, rounds: Round[], drains: DrainRound[]): Promise<void> {
  const medians = summarizeRounds(rounds)
  const verdicts = judgeComparison({ rounds, medians, drains, rate: rig.rate })
  const heading = {
    nginxVersion: rig.install.version,
    rounds: rig.settings.rounds,
    connections: rig.settings.connections,
    closedSeconds: rig.settings.closedSeconds,
    openSeconds: rig.settings.openSeconds,
    rate: rig.rate,
    nginxMirrorSaturated: rig.nginxMirrorSaturated,
    bytes: rig.upstreams.live.bytes,
    cores: cpus().length,
    loadAverage: rig.loadAverage
  }
  printComparison(heading, medians, verdicts)
  const profile = await readProfile(rig.profileDir)
  printProfile(profile)

  const { settings, install } = rig
  const figures = { settings, install, heading, verdicts, medians, rounds, drains, profile }
  const file = await writeResults('compare', figures)
  process.stdout.write(`raw figures: ${relative(process.cwd(), file)}\n`)
}

interface ProfileReport {
  file: string
  summary: GatewayProfileSummary
}

async function readProfile (dir: string | undefined): Promise<ProfileReport | undefined> {
  if (dir === undefined) return undefined

  // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile: thread 0 is the event loop.
  const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'))
  const file = files.find((name) => /\.0\.\d+\.cpuprofile$/.test(name)) ?? files[0]
  if (file === undefined) {
    process.stderr.write(`bench: no CPU profile was written to ${dir} (the gateway did not exit cleanly)\n`)
    return undefined
  }

  return { file: join(dir, file), summary: await summarizeGatewayProfile(join(dir, file)) }
}

function printProfile (profile: ProfileReport | undefined): void {
  if (profile === undefined) return

  const { summary } = profile
  const entry = ({ share, ms, name }: { share: number, ms: number, name: string }): string =>
    `  ${formatNumber(share * 100, 1).padStart(5)}%  ${formatNumber(ms).padStart(6)} ms  ${name}`
  const lines = [
    '',
    `CPU profile of the gateway (${profile.file}): ${formatNumber(summary.busyMs)} ms busy, ` +
      `${formatNumber(summary.idleMs)} ms idle; its figures above were taken under the profiler`,
    'self time by area:', ...summary.selfByArea.map(entry),
    'top self time:', ...summary.topSelf.map(entry)
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}
