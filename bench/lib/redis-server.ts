import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { hasExited, stopChild, trackChild } from './child-processes.js'

export interface PrivateRedisOptions {
  /** Memory Redis may use before refusing writes (noeviction). Default 3 072. */
  maxMemoryMb?: number
  /** Give up when it does not answer PING by then. Default 5 000. */
  startTimeoutMs?: number
}

export interface PrivateRedis {
  url: string
  pid: number
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause: () => void
  /** SIGCONT: it answers again, in order, what it received meanwhile. */
  resume: () => void
  paused: () => boolean
  /** Memory Redis reports in use, in MB; undefined when it does not answer. */
  usedMemoryMb: () => Promise<number | undefined>
  stop: () => Promise<void>
}

const portAttempts = 3

/**
 * A redis-server of the benchmark's own, on a free loopback port with
 * persistence off. The benchmark may pause it (SIGSTOP) and writes
 * hundreds of MB a second to it: neither must happen to a Redis that
 * anyone else uses. Its data goes with its process.
 */
export async function startPrivateRedis (options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort()
    const child = spawnRedis(port, options.maxMemoryMb ?? 3_072)
    const ready = await waitForPing(child, port, options.startTimeoutMs ?? 5_000)
    if (ready) return describeRedis(child, port)

    await stopChild(child)
    // A port taken between the probe and redis-server's bind: try another.
    if (attempt >= portAttempts) {
      throw new Error(`redis-server (looked up on PATH) did not answer on a free port after ${attempt} attempts`)
    }
  }
}

function spawnRedis (port: number, maxMemoryMb: number): ChildProcess {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes',
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    '--maxmemory', `${maxMemoryMb}mb`, '--maxmemory-policy', 'noeviction'
  ], { stdio: 'ignore' })
  trackChild(child)
  child.on('error', () => {})

  return child
}

function describeRedis (child: ChildProcess, port: number): PrivateRedis {
  const url = `redis://127.0.0.1:${port}`
  let paused = false
  const signal = (name: NodeJS.Signals): void => {
    if (!hasExited(child)) child.kill(name)
  }

  return {
    url,
    pid: child.pid ?? 0,
    pause: () => { paused = true; signal('SIGSTOP') },
    resume: () => { paused = false; signal('SIGCONT') },
    paused: () => paused,
    usedMemoryMb: async () => await readUsedMemoryMb(url),
    stop: async () => { paused = false; await stopChild(child) }
  }
}

async function findFreePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await new Promise((resolve) => server.close(resolve))

  return port
}

async function waitForPing (child: ChildProcess, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !hasExited(child)) {
    if (await answersPing(`redis://127.0.0.1:${port}`)) return true
    await sleep(50)
  }

  return false
}

async function answersPing (url: string): Promise<boolean> {
  const redis = connectOnce(url)
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

async function readUsedMemoryMb (url: string): Promise<number | undefined> {
  const redis = connectOnce(url)
  try {
    await redis.connect()
    const info = await redis.info('memory')
    const bytes = Number(/^used_memory:(\d+)/m.exec(info)?.[1])
    return Number.isFinite(bytes) ? Math.round(bytes / 2 ** 20) : undefined
  } catch {
    return undefined
  } finally {
    redis.disconnect()
  }
}

/** One short-lived connection that never retries and never waits long. */
function connectOnce (url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null
  })
  redis.on('error', () => {})

  return redis
}
