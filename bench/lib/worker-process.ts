import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { defaultWorkerConcurrency } from '../../src/config/schema.js'
import { hasExited, stopChild, trackChild } from './child-processes.js'
import { addCleanup, once } from './cleanup-tasks.js'
import { requireLoopback } from './loopback.js'
import { cliNodeOptions } from './node-flags.js'
import { watchProcessLog, type ProcessLogSummary, type ProcessLogWatch } from './process-log.js'

export interface WorkerOptions {
  /** Must be on 127.0.0.1. */
  redisUrl: string
  /** A benchmark namespace (bench-…); the caller drops it. */
  namespace: string
  /** The one route whose pairs the worker judges. */
  route: string
  /** Batches judged at once. Default: the worker's own default. */
  concurrency?: number
  /** How long the worker holds a batch before another may take it over. Default 30 000. */
  lockMs?: number
  /** Write a V8 CPU profile of the whole process into this directory when it exits. */
  cpuProfileDir?: string
  /** Give up when the worker has not logged its ready line by then. Default 15 000. */
  startTimeoutMs?: number
  /**
   * Run the worker at this nice value (0 to 19), every thread of it, so
   * that it takes only CPU time the measured processes leave. Default:
   * our own.
   */
  niceness?: number
}

export interface RunningWorker {
  pid: number
  /** Where the worker answers /healthz and /metrics. */
  metricsUrl: string
  log: () => ProcessLogSummary
  logTail: () => string[]
  /** True once the process has exited, for whatever reason. */
  exited: () => boolean
  /**
   * SIGTERM (the worker finishes the batch in hand), SIGKILL after 10 s;
   * resolves with the exit code.
   */
  stop: () => Promise<number | null>
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const mainFile = join(repoRoot, 'dist', 'cli', 'main.js')
const readyMessage = 'diff worker running'
const stopGraceMs = 10_000

/**
 * Runs the built `shadowramp worker` (`dist/`) as its own process, as in
 * production, with a generated configuration holding one route. Resolves
 * once it logs that it runs, which it does after it started taking jobs.
 */
export async function startWorker (options: WorkerOptions): Promise<RunningWorker> {
  if (!existsSync(mainFile)) throw new Error(`${mainFile} is missing: run npm run build first`)
  requireRedisLoopback(options.redisUrl)

  const dir = await mkdtemp(join(tmpdir(), 'shadowramp-bench-worker-'))
  const removeDir = once(async () => await rm(dir, { recursive: true, force: true }))
  const forget = addCleanup(removeDir)
  const configFile = join(dir, 'shadowramp.yaml')
  await writeFile(configFile, renderConfig(options))

  const command = [...cliNodeOptions(mainFile), ...profileArguments(options), mainFile, 'worker', '--config', configFile]
  const [file, args] = withNiceness(options.niceness, [process.execPath, ...command])
  const child = spawn(file, args, {
    cwd: repoRoot,
    env: workerEnvironment(options.redisUrl),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  trackChild(child)
  const log = watchProcessLog([child.stdout, child.stderr])
  const stop = async (): Promise<number | null> => {
    await stopChild(child, stopGraceMs)
    await removeDir()
    forget()
    return child.exitCode
  }

  try {
    const metricsUrl = await waitForReadyLine(child, log, options.startTimeoutMs ?? 15_000)
    return {
      pid: child.pid ?? 0,
      metricsUrl,
      log: log.summary,
      logTail: log.tail,
      exited: () => hasExited(child),
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Benchmarks talk to the Redis on this machine only. */
export function requireRedisLoopback (url: string): URL {
  const parsed = new URL(url)
  if (parsed.protocol !== 'redis:' || parsed.hostname !== '127.0.0.1') {
    throw new Error(`refusing to use Redis at ${url}: benchmarks use redis://127.0.0.1 only`)
  }

  return parsed
}

/**
 * Log level info, because the ready line naming the metrics address is
 * logged at info; a worker logs nothing per batch at that level.
 */
function renderConfig (options: WorkerOptions): string {
  const config = {
    log: { level: 'info', requests: false },
    redis: { url: options.redisUrl, namespace: options.namespace },
    worker: {
      concurrency: options.concurrency ?? defaultWorkerConcurrency,
      lockMs: options.lockMs ?? 30_000,
      listen: { host: '127.0.0.1', port: 0 }
    },
    // The worker never calls the backends; these addresses only satisfy the schema.
    routes: [{
      name: options.route,
      paths: ['/feed', '/feed/*'],
      baseline: { url: 'http://127.0.0.1:9' },
      candidate: { url: 'http://127.0.0.1:9' }
    }]
  }

  return `${JSON.stringify(config, null, 2)}\n`
}

/**
 * Through nice(1) rather than setpriority on the child's pid: on Linux
 * that changes one thread, and Node starts its other threads at once.
 */
function withNiceness (niceness: number | undefined, command: string[]): [string, string[]] {
  if (niceness === undefined) return [command[0] ?? process.execPath, command.slice(1)]
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new Error(`niceness expects a whole number from 0 to 19, found ${niceness}`)
  }

  return ['nice', ['-n', String(niceness), ...command]]
}

function profileArguments (options: WorkerOptions): string[] {
  if (options.cpuProfileDir === undefined) return []

  return ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir]
}

/** Without SHADOWRAMP_* overrides, and with REDIS_URL pointing where the benchmark's pairs are. */
function workerEnvironment (redisUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SHADOWRAMP_')) env[name] = value
  }
  env.REDIS_URL = redisUrl

  return env
}

async function waitForReadyLine (
  child: ChildProcess, log: ProcessLogWatch, timeoutMs: number
): Promise<string> {
  if (child.stdout === null) throw new Error('the worker has no stdout to read')
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity })

  return await new Promise((resolve, reject) => {
    const late = (): void => finish(failure(`was not ready within ${timeoutMs} ms`))
    const timer = setTimeout(late, timeoutMs)
    const onExit = (): void => {
      finish(failure(`exited (${child.exitCode ?? child.signalCode}) before it ran`))
    }
    const onLine = (line: string): void => {
      const metricsUrl = readMetricsUrl(line)
      if (metricsUrl !== undefined) finish(metricsUrl)
    }
    function failure (what: string): Error {
      return new Error(`the worker ${what}; its last lines:\n${log.tail().join('\n')}`)
    }
    function finish (outcome: string | Error): void {
      clearTimeout(timer)
      child.off('exit', onExit)
      // Not closed: closing a readline interface pauses its input, and
      // the log watcher reads the same stream.
      lines.off('line', onLine)
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome)
    }

    if (hasExited(child)) { onExit(); return }
    child.once('exit', onExit)
    lines.on('line', onLine)
  })
}

function readMetricsUrl (line: string): string | undefined {
  if (!line.startsWith('{')) return undefined

  try {
    const entry = JSON.parse(line) as { msg?: unknown, metrics?: unknown }
    if (entry.msg !== readyMessage || typeof entry.metrics !== 'string') return undefined
    return requireLoopback(entry.metrics).origin
  } catch {
    return undefined
  }
}
