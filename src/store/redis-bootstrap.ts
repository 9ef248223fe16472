import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, Socket } from 'node:net'
import { SR_ERR_REDIS_UNAVAILABLE } from '../errors.js'
import type { Logger } from '../telemetry/logger.js'

export const defaultRedisUrl = 'redis://127.0.0.1:6379'

export const redisInstallHint = 'nothing answers at redis://127.0.0.1:6379 and redis-server is not on PATH: ' +
  'install it (apt-get install redis-server) or start the compose service (docker compose up -d redis), ' +
  'or point REDIS_URL at a Redis'

/** Looked up on PATH. */
const redisServerCommand = 'redis-server'

export interface ResolvedRedis {
  url: string
  /** Set when shadowramp started its own redis-server; stop it on exit. */
  privateServer: ChildProcess | undefined
}

/**
 * Finds the Redis to use. A configured URL is used as it is. Otherwise the
 * default address is tried, and when nothing answers there a private
 * redis-server is started from PATH on a free loopback port, persistence
 * off, so that a fresh clone runs without any set-up.
 */
export async function resolveRedis (configuredUrl: string | undefined, logger: Logger, defaultUrl = defaultRedisUrl): Promise<ResolvedRedis> {
  if (configuredUrl !== undefined && configuredUrl !== defaultUrl) return { url: configuredUrl, privateServer: undefined }

  const { hostname, port: defaultPort } = new URL(defaultUrl)
  if (await answersPing(hostname, Number(defaultPort))) return { url: defaultUrl, privateServer: undefined }

  const { port, server } = await startPrivateRedis()
  const url = `redis://127.0.0.1:${port}`
  logger.info({ redisUrl: url }, `nothing answers at ${defaultUrl}: started a private redis-server at ${url} with persistence off`)

  return { url, privateServer: server }
}

/** Tries with a fresh free port this many times when another server takes the one picked. */
const portAttempts = 3

/**
 * Starts a redis-server from PATH on `port`, or on a free loopback port.
 * A free port is only free when probed: another process may bind it before
 * redis-server does, which then exits while the other answers on it. So
 * the server is known ready only once the one answering is this child
 * (its process id, from INFO); a picked port taken meanwhile is picked
 * again, a given one is an error.
 */
export async function startPrivateRedis (port?: number): Promise<{ port: number, server: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const chosen = port ?? await freePort()
    const server = spawnRedis(chosen)
    const outcome = await untilOwnServerAnswers(server, chosen, 5_000)
    if (outcome === 'ready') return { port: chosen, server }

    server.kill('SIGKILL')
    if (outcome === 'exited' && port === undefined && attempt < portAttempts) continue
    const why = outcome === 'exited' ? 'exited, its port likely taken by another process' : 'did not answer in time'
    throw new SR_ERR_REDIS_UNAVAILABLE(`the private redis-server on port ${chosen} ${why}`)
  }
}

function spawnRedis (port: number): ChildProcess {
  const server = spawn(redisServerCommand, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning'
  ], { stdio: 'ignore' })
  const stop = (): void => { server.kill('SIGTERM') }
  process.once('exit', stop)
  server.once('exit', () => process.off('exit', stop))

  return server
}

/**
 * Resolves 'ready' once the redis-server answering at the port is this
 * child, 'exited' if the child exits first, 'late' after the timeout.
 * Rejects when redis-server could not be started (not on PATH).
 */
async function untilOwnServerAnswers (server: ChildProcess, port: number, timeoutMs: number): Promise<'ready' | 'exited' | 'late'> {
  if (server.pid === undefined) {
    // Not started at all: the reason comes as an 'error' event.
    const [error] = await once(server, 'error') as [NodeJS.ErrnoException]
    throw error.code === 'ENOENT' ? new SR_ERR_REDIS_UNAVAILABLE(redisInstallHint) : error
  }

  let exited = false
  server.once('exit', () => { exited = true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited) return 'exited'
    if (await answeringPid(port) === server.pid) return 'ready'
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return 'late'
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

/** True when a Redis answers PING at the address within half a second. */
export async function answersPing (host: string, port: number): Promise<boolean> {
  const answer = await askOnce(host, port, 'PING', (reply) => {
    if (!reply.includes('\r\n')) return undefined
    return { value: reply.startsWith('+PONG') || reply.startsWith('-NOAUTH') }
  })

  return answer ?? false
}

/**
 * The process id of the redis-server answering at a loopback port, from
 * INFO server; undefined when none answers within half a second, or one
 * that asks for a password.
 */
async function answeringPid (port: number): Promise<number | undefined> {
  return await askOnce('127.0.0.1', port, 'INFO server', (reply) => {
    const found = /process_id:(\d+)/.exec(reply)
    if (found !== null) return { value: Number(found[1]) }
    return reply.startsWith('-') ? { value: undefined } : undefined
  })
}

/**
 * Sends one inline command on a connection of its own and gives `read`
 * the reply so far, until it returns a value; undefined when nothing
 * readable comes within half a second.
 */
async function askOnce<T> (host: string, port: number, command: string, read: (reply: string) => { value: T } | undefined): Promise<T | undefined> {
  return await new Promise((resolve) => {
    const socket = new Socket()
    let reply = ''
    const finish = (value: T | undefined): void => { socket.destroy(); resolve(value) }
    socket.setTimeout(500, () => finish(undefined))
    socket.once('error', () => finish(undefined))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      const answer = read(reply)
      if (answer !== undefined) finish(answer.value)
    })
    socket.connect(port, host, () => socket.write(`${command}\r\n`))
  })
}
