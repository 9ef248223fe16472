import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { hasExited, stopChild, trackChild } from './child-processes.js'
import { addCleanup, once as onceOnly } from './cleanup-tasks.js'
import { requireLoopback } from './loopback.js'
import { watchProcessLog, type ProcessLogSummary, type ProcessLogWatch } from './process-log.js'
import { reserveLoopbackPort } from './socket-count.js'

/** Where the nginx binary came from, and what installing it did to the machine. */
export interface NginxInstall {
  binary: string
  /** As `nginx -v` prints it, e.g. nginx/1.22.1. */
  version: string
  /** True when this run installed Debian's package. */
  installed: boolean
  /**
   * What was done about a system nginx that the package's install started
   * (Debian starts one on port 80); undefined when none was started.
   */
  systemNginx: string | undefined
}

export interface NginxOptions {
  binary: string
  /** Where live requests go (proxy_pass); must be on 127.0.0.1. */
  upstreamUrl: string
  /** Where every request is mirrored with nginx's mirror module; none: no mirror. */
  mirrorUrl?: string
  /** A path that answers through the upstream, to tell when nginx serves. */
  readyPath: string
  /** Give up when nginx does not serve by then. Default 10 000. */
  startTimeoutMs?: number
}

export interface RunningNginx {
  url: string
  /** The master: it reads the configuration and supervises the worker. */
  pid: number
  /** The master and its worker, read afresh: a worker that died is replaced under a new pid. */
  pids: () => number[]
  /** The worker alone: it holds the connections. */
  workerPids: () => number[]
  log: () => ProcessLogSummary
  logTail: () => string[]
  stop: () => Promise<void>
}

const portAttempts = 3
const portTaken = /Address already in use/
const installTimeoutMs = 240_000
/** Debian's init script writes the system nginx's pid here. */
const systemPidFile = '/run/nginx.pid'

/** The nginx on PATH (or in /usr/sbin, where Debian puts it); undefined when there is none. */
export function findNginx (): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = join(dir, 'nginx')
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }

  return undefined
}

/**
 * Finds nginx, or installs Debian's package with apt-get (refreshing the
 * package lists once if the first attempt fails). The package's install
 * starts a system nginx on port 80 where an init system lets it; that one
 * is no part of the benchmark and is stopped at once.
 */
export async function ensureNginx (log: (line: string) => void): Promise<NginxInstall> {
  const found = findNginx()
  if (found !== undefined) {
    return { binary: found, version: readVersion(found), installed: false, systemNginx: undefined }
  }

  const hadSystemPid = readSystemPid() !== undefined
  log('nginx is not on PATH: installing Debian\'s package (apt-get install -y nginx)')
  if (!await runApt(['install', '-y', 'nginx'])) {
    log('apt-get install failed; refreshing the package lists and trying once more')
    await runApt(['update'])
    if (!await runApt(['install', '-y', 'nginx'])) throw new Error('apt-get install -y nginx failed')
  }

  const binary = findNginx()
  if (binary === undefined) throw new Error('apt-get installed nginx, but no nginx binary is on PATH')
  const systemNginx = hadSystemPid ? undefined : stopSystemNginx(binary)
  if (systemNginx !== undefined) log(systemNginx)

  return { binary, version: readVersion(binary), installed: true, systemNginx }
}

/**
 * A tracked child rather than spawnSync, so that Ctrl-C and the run's
 * deadline still stop it; its output goes to our stderr, with the
 * benchmark's progress.
 */
async function runApt (args: string[]): Promise<boolean> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const child = spawn('apt-get', args, { env, stdio: ['ignore', 2, 2] })
  trackChild(child)
  const timer = setTimeout(() => { void stopChild(child) }, installTimeoutMs)
  try {
    const [code] = await once(child, 'exit') as [number | null]
    return code === 0
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

function readVersion (binary: string): string {
  const result = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 5_000 })
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`

  return /nginx\/[\w.]+/.exec(text)?.[0] ?? 'nginx (version unknown)'
}

function readSystemPid (): number | undefined {
  try {
    const pid = Number(readFileSync(systemPidFile, 'utf8').trim())
    const command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
    return command === 'nginx' ? pid : undefined
  } catch {
    return undefined
  }
}

/** `nginx -s quit` against the package's own configuration; SIGTERM if it is still there 5 s later. */
function stopSystemNginx (binary: string): string | undefined {
  const pid = readSystemPid()
  if (pid === undefined) return undefined

  spawnSync(binary, ['-s', 'quit'], { stdio: 'ignore', timeout: 5_000 })
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline && isRunning(pid)) spawnSync('sleep', ['0.1'])
  const started = `the nginx package started a system nginx (pid ${pid}, port 80)`
  if (!isRunning(pid)) return `${started}: stopped it with nginx -s quit`

  process.kill(pid, 'SIGTERM')
  return `${started}: nginx -s quit did not stop it, sent SIGTERM`
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * One nginx of the benchmark's own, in the foreground (daemon off) so that
 * it is our child and stops with us: one worker process, its own
 * configuration, pid file, error log and temporary files in a directory of
 * its own, listening on a free 127.0.0.1 port.
 */
export async function startNginx (options: NginxOptions): Promise<RunningNginx> {
  requireLoopback(options.upstreamUrl)
  if (options.mirrorUrl !== undefined) requireLoopback(options.mirrorUrl)

  const dir = await mkdtemp(join(tmpdir(), 'shadowramp-bench-nginx-'))
  // The worker runs as an unprivileged user when we are root, and needs
  // to reach its temporary directories inside this one.
  await chmod(dir, 0o755)
  const removeDir = onceOnly(async () => await rm(dir, { recursive: true, force: true }))
  const forget = addCleanup(removeDir)
  try {
    return await startOnFreePort(options, dir, async () => { await removeDir(); forget() })
  } catch (error) {
    await removeDir()
    forget()
    throw error
  }
}

async function startOnFreePort (
  options: NginxOptions, dir: string, removeDir: () => Promise<void>
): Promise<RunningNginx> {
  for (let attempt = 1; ; attempt++) {
    const port = await reserveLoopbackPort()
    const configFile = join(dir, 'nginx.conf')
    await writeFile(configFile, renderConfig(options, port, dir))

    const args = ['-c', configFile, '-p', `${dir}/`, '-e', join(dir, 'error.log'), '-g', 'daemon off;']
    const child = spawn(options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    trackChild(child)
    child.on('error', () => {})
    const log = watchProcessLog([child.stdout, child.stderr])
    const url = `http://127.0.0.1:${port}`
    const timeoutMs = options.startTimeoutMs ?? 10_000
    const failure = await waitUntilServing(child, url + options.readyPath, dir, log, timeoutMs)
    if (failure === undefined) return describeNginx(child, url, log, removeDir)

    await stopChild(child)
    if (!portTaken.test(failure.message) || attempt >= portAttempts) throw failure
  }
}

function describeNginx (
  child: ChildProcess, url: string, log: ProcessLogWatch, removeDir: () => Promise<void>
): RunningNginx {
  const master = child.pid ?? 0

  return {
    url,
    pid: master,
    pids: () => [master, ...findChildPids(master)],
    workerPids: () => findChildPids(master),
    log: log.summary,
    logTail: log.tail,
    stop: async () => {
      // SIGTERM is nginx's fast shutdown: the master stops its worker first.
      await stopChild(child, 5_000)
      await removeDir()
    }
  }
}

/**
 * The configuration. Each choice matches what the shadowramp gateway does
 * or what a production nginx in front of an API would have:
 * - one worker process, as one shadowramp process runs one event loop;
 * - keep-alive to the upstreams (HTTP/1.1, no Connection header), as the
 *   gateway's connection pools keep theirs;
 * - no access log (the gateway's benchmark configuration logs at warn),
 *   and an error log at crit: a refused mirror target is logged at error
 *   on every request, which would make nginx pay for a disk write per
 *   request that the gateway does not make;
 * - keepalive_requests raised from 1,000 so that neither side reconnects
 *   during a phase (Node's servers and undici's pools never do).
 */
function renderConfig (options: NginxOptions, port: number, dir: string): string {
  const upstream = requireLoopback(options.upstreamUrl)
  const mirror = options.mirrorUrl === undefined ? undefined : requireLoopback(options.mirrorUrl)
  const lines = [
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} crit;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(dir, 'client-body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    '  keepalive_requests 1000000;',
    ...upstreamBlock('live', upstream.host),
    ...(mirror === undefined ? [] : upstreamBlock('shadow', mirror.host)),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    ...(mirror === undefined ? [] : ['      mirror /mirror;', '      mirror_request_body on;']),
    ...proxyTo('http://live'),
    '    }',
    ...(mirror === undefined ? [] : mirrorLocation()),
    '  }',
    '}'
  ]

  return `${lines.join('\n')}\n`
}

function upstreamBlock (name: string, hostAndPort: string): string[] {
  return [
    `  upstream ${name} {`,
    `    server ${hostAndPort};`,
    '    keepalive 64;',
    '    keepalive_requests 1000000;',
    '  }'
  ]
}

function proxyTo (target: string): string[] {
  return [
    `      proxy_pass ${target};`,
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";'
  ]
}

/** The mirror's subrequest: the original URI, to the shadow upstream; nginx discards its answer. */
function mirrorLocation (): string[] {
  return [
    '    location = /mirror {',
    '      internal;',
    ...proxyTo('http://shadow$request_uri'),
    '    }'
  ]
}

async function waitUntilServing (
  child: ChildProcess, url: string, dir: string, log: ProcessLogWatch, timeoutMs: number
): Promise<Error | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (hasExited(child)) return exitError(child, dir, log)
    if (await answersOk(url)) return undefined
    await sleep(50)
  }

  return new Error(`nginx did not serve within ${timeoutMs} ms; ${describeLog(dir, log)}`)
}

function exitError (child: ChildProcess, dir: string, log: ProcessLogWatch): Error {
  const status = child.exitCode ?? child.signalCode

  return new Error(`nginx exited (${status}) before it served; ${describeLog(dir, log)}`)
}

/** nginx reports start-up failures on stderr and in its error log. */
function describeLog (dir: string, log: ProcessLogWatch): string {
  let errorLog = ''
  try {
    errorLog = readFileSync(join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-10).join('\n')
  } catch {}

  return `its last lines:\n${[...log.tail(), errorLog].filter((text) => text !== '').join('\n')}`
}

async function answersOk (url: string): Promise<boolean> {
  const limits = { headersTimeout: 1_000, bodyTimeout: 1_000 }
  try {
    const { statusCode, body } = await request(url, limits)
    await body.dump()
    return statusCode === 200
  } catch {
    return false
  }
}

/** Processes whose parent is `pid`, from /proc; empty where /proc is missing. */
export function findChildPids (pid: number): number[] {
  const children: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return children
  }

  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (parent === pid) children.push(Number(entry))
    } catch {}
  }

  return children
}
