import { spawn, type ChildProcess } from 'node:child_process'
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

export async function startPrivateRedis (port?: number): Promise<{ port: number, server: ChildProcess }> {
  port ??= await freePort()
  const server = spawn(redisServerCommand, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning'
  ], { stdio: 'ignore' })
  const stop = (): void => { server.kill('SIGTERM') }
  process.once('exit', stop)
  server.once('exit', () => process.off('exit', stop))

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new SR_ERR_REDIS_UNAVAILABLE(redisInstallHint) : error)
    })
    void waitForPing(port, 5_000).then((ok) => ok ? resolve() : reject(new SR_ERR_REDIS_UNAVAILABLE(`the private redis-server on port ${port} did not start`)))
  })

  return { port, server }
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

async function waitForPing (port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await answersPing('127.0.0.1', port)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return false
}

/** True when a Redis answers PING at the address within half a second. */
export async function answersPing (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = new Socket()
    let reply = ''
    const finish = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => finish(false))
    socket.once('error', () => finish(false))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'))
    })
    socket.connect(port, host, () => socket.write('PING\r\n'))
  })
}
