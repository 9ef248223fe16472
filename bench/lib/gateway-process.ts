import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { hasExited, stopChild, trackChild } from './child-processes.js'
import { addCleanup, once } from './cleanup-tasks.js'
import { requireLoopback } from './loopback.js'
import { cliNodeOptions } from './node-flags.js'
import { watchProcessLog, type ProcessLogSummary, type ProcessLogWatch } from './process-log.js'
import { createBenchNamespace, dropBenchNamespace } from './redis-namespace.js'

export interface GatewayOptions {
  baselineUrl: string
  candidateUrl: string
  /** The candidate's share of live requests, 0 to 100. */
  percentage: number
  /** Path patterns of the one route, in Fastify's syntax. Default /feed and /feed/*. */
  paths?: string[]
  /** More keys of the route (e.g. its mirror settings), over the generated ones. */
  extraRoute?: Record<string, unknown>
  /** More top-level configuration keys, over the generated ones. */
  extraConfig?: Record<string, unknown>
  /** Give up when the gateway is not ready by then. Default 15 000. */
  startTimeoutMs?: number
  /**
   * Where finished pairs go. 'batched' (default) runs `dist/cli/main.js
   * serve`, as production does; 'discard' and 'naive' run
   * bench/lib/gateway-variant.ts, the same gateway with that pair sink.
   */
  pairSink?: GatewayPairSink
  /**
   * The Redis the gateway uses, written into its configuration (REDIS_URL
   * is then not passed on). Default: REDIS_URL, else 127.0.0.1:6379.
   */
  redisUrl?: string
  /** Options for node itself, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[]
}

export type GatewayPairSink = 'batched' | 'discard' | 'naive'

export interface RunningGateway {
  url: string
  adminUrl: string
  namespace: string
  pid: number
  /** Counts of what the gateway logged so far, and its first warnings. */
  log: () => ProcessLogSummary
  /** Its latest output lines, as written. */
  logTail: () => string[]
  stop: () => Promise<void>
}

interface Ports {
  gateway: number
  admin: number
}

/** One attempt at starting the gateway: where its files are and what it leaves behind. */
interface Launch {
  dir: string
  namespace: string
  leftovers: Leftovers
  timeoutMs: number
  command: string[]
  env: NodeJS.ProcessEnv
}

/**
 * The Redis namespace and configuration directory a gateway leaves behind.
 * Registered as a cleanup task from the start, so an interrupted run
 * removes them too (after its children are stopped).
 */
interface Leftovers {
  clean: () => Promise<void>
  forget: () => void
}

class PortTakenError extends Error {}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const mainFile = join(repoRoot, 'dist', 'cli', 'main.js')
const variantFile = join(repoRoot, 'bench', 'lib', 'gateway-variant.ts')
const defaultRedisUrl = 'redis://127.0.0.1:6379'
const portAttempts = 3
/** The raw code, or how `serve` words it (SR_ERR_LISTEN). */
const portTaken = /EADDRINUSE|another process uses that address/

/**
 * Runs the built gateway (`dist/`) as its own process, as it runs in
 * production, with a generated one-route configuration and a private Redis
 * namespace. Resolves once it answers on its admin listener.
 */
export async function startGateway (options: GatewayOptions): Promise<RunningGateway> {
  if (!existsSync(mainFile)) throw new Error(`${mainFile} is missing: run npm run build first`)
  // Load sent to the gateway reaches its backends: they too must be ours.
  requireLoopback(options.baselineUrl)
  requireLoopback(options.candidateUrl)

  const namespace = createBenchNamespace()
  const dir = await mkdtemp(join(tmpdir(), 'shadowramp-bench-'))
  const leftovers = registerLeftovers(namespace, dir, options.redisUrl)
  const timeoutMs = options.startTimeoutMs ?? 15_000
  const command = gatewayCommand(options)
  const env = gatewayEnvironment(options.redisUrl !== undefined)
  try {
    return await startOnFreePorts(options, { dir, namespace, leftovers, timeoutMs, command, env })
  } catch (error) {
    await leftovers.clean()
    leftovers.forget()
    throw error
  }
}

/**
 * At log level warn the gateway does not print the line that names its
 * ports, so the ports are chosen here and written into the configuration.
 * Another process may take a port between our probe and the gateway's
 * listen; that start fails with EADDRINUSE and is tried again.
 */
async function startOnFreePorts (options: GatewayOptions, launch: Launch): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    const ports = await reservePorts()
    const configFile = join(launch.dir, 'shadowramp.yaml')
    await writeFile(configFile, renderConfig(options, ports, launch.namespace))

    const started = await spawnGateway(configFile, ports, launch)
    if (started instanceof PortTakenError && attempt < portAttempts) continue
    if (started instanceof Error) throw started

    return started
  }
}

/** Node's arguments up to the configuration file, which comes last. */
function gatewayCommand (options: GatewayOptions): string[] {
  const sink = options.pairSink ?? 'batched'
  // Every variant runs with the CLI's own node options, so that the
  // references differ from the real gateway in their pair sink only.
  const nodeArgs = [...cliNodeOptions(mainFile), ...options.nodeArgs ?? []]
  if (sink === 'batched') return [...nodeArgs, mainFile, 'serve', '--config']

  return [...nodeArgs, '--import', 'tsx', variantFile, '--pair-sink', sink, '--config']
}

async function spawnGateway (configFile: string, ports: Ports, launch: Launch): Promise<RunningGateway | Error> {
  const child = spawn(process.execPath, [...launch.command, configFile], {
    cwd: repoRoot,
    env: launch.env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  trackChild(child)
  const log = watchProcessLog([child.stdout, child.stderr])

  const failure = await waitUntilReady(child, ports, log, launch.timeoutMs)
  if (failure !== undefined) {
    await stopChild(child)
    return failure
  }

  return describeGateway(child, ports, launch, log)
}

function describeGateway (child: ChildProcess, ports: Ports, launch: Launch, log: ProcessLogWatch): RunningGateway {
  return {
    url: `http://127.0.0.1:${ports.gateway}`,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    namespace: launch.namespace,
    pid: child.pid ?? 0,
    log: log.summary,
    logTail: log.tail,
    stop: async () => {
      await stopChild(child, 5_000)
      await launch.leftovers.clean()
      launch.leftovers.forget()
    }
  }
}

/** The configuration as JSON, which is also YAML: nothing to quote or escape. */
function renderConfig (options: GatewayOptions, ports: Ports, namespace: string): string {
  const config = {
    listen: { host: '127.0.0.1', port: ports.gateway },
    admin: { listen: { host: '127.0.0.1', port: ports.admin } },
    log: { level: 'warn' },
    redis: options.redisUrl === undefined ? { namespace } : { namespace, url: options.redisUrl },
    routes: [{
      name: 'feed',
      paths: options.paths ?? ['/feed', '/feed/*'],
      baseline: { url: options.baselineUrl },
      candidate: { url: options.candidateUrl },
      percentage: options.percentage,
      fallback: { lastGood: { maxEntries: 100 } },
      ...options.extraRoute
    }],
    // The benchmarks measure what mirroring costs, so mirroring must not
    // stand aside when the gateway saturates (shadow.maxLoopBusy).
    shadow: { maxLoopBusy: 1 },
    ...options.extraConfig
  }

  return `${JSON.stringify(config, null, 2)}\n`
}

/**
 * The caller's environment without SHADOWRAMP_* variables: those override
 * the configuration (backend URLs among them) and would point the gateway
 * somewhere the benchmark did not choose. REDIS_URL passes through unless
 * the benchmark chose the Redis itself.
 */
function gatewayEnvironment (redisChosen: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('SHADOWRAMP_')) continue
    if (redisChosen && name === 'REDIS_URL') continue
    env[name] = value
  }

  return env
}

async function waitUntilReady (child: ChildProcess, ports: Ports, log: ProcessLogWatch, timeoutMs: number): Promise<Error | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (hasExited(child)) return exitError(child, log)
    if (await answersReady(ports.admin)) return undefined
    await sleep(100)
  }

  const lines = log.tail().join('\n')
  return new Error(`the gateway was not ready within ${timeoutMs} ms; its last lines:\n${lines}`)
}

function exitError (child: ChildProcess, log: ProcessLogWatch): Error {
  const lines = log.tail().join('\n')
  const status = child.exitCode ?? child.signalCode
  const message = `the gateway exited (${status}) before it served; its last lines:\n${lines}`

  return portTaken.test(lines) ? new PortTakenError(message) : new Error(message)
}

/** The admin listener starts after the gateway's, so its answer means both listen. */
async function answersReady (port: number): Promise<boolean> {
  const limits = { headersTimeout: 1_000, bodyTimeout: 1_000 }
  try {
    const { statusCode, body } = await request(`http://127.0.0.1:${port}/readyz`, limits)
    await body.dump()
    return statusCode === 200
  } catch {
    return false
  }
}

/** Two distinct free loopback ports: both are held open until both are known. */
async function reservePorts (): Promise<Ports> {
  const servers = [createServer(), createServer()]
  const ports = await Promise.all(servers.map(listenOnFreePort))
  await Promise.all(servers.map(closeServer))

  return { gateway: ports[0] ?? 0, admin: ports[1] ?? 0 }
}

async function listenOnFreePort (server: Server): Promise<number> {
  return await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : 0)
    })
  })
}

async function closeServer (server: Server): Promise<void> {
  await new Promise((resolve) => server.close(resolve))
}

function registerLeftovers (namespace: string, dir: string, redisUrl: string | undefined): Leftovers {
  const clean = once(async () => await cleanUp(namespace, dir, redisUrl))

  return { clean, forget: addCleanup(clean) }
}

async function cleanUp (namespace: string, dir: string, redisUrl: string | undefined): Promise<void> {
  const given = redisUrl ?? process.env.REDIS_URL
  await dropBenchNamespace(given === undefined || given === '' ? defaultRedisUrl : given, namespace)
  await rm(dir, { recursive: true, force: true })
}
