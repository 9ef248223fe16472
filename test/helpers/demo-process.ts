import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { dropNamespace, testRedisUrl, uniqueNamespace } from './redis.js'

export interface RunningDemo {
  gatewayUrl: string
  adminUrl: string
  namespace: string
}

/** How long the demo may take to print its banner: two json-servers, Redis, and shadowramp. */
const startTimeoutMs = 30_000

/** The built files the browser test runs; without them it fails saying how to make them. */
export function requireBuild (): void {
  for (const file of ['dist/cli/main.js', 'dist/demo/traffic.js', 'dist/admin/ui/index.html']) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the browser test`)
  }
}

/**
 * Runs `node dist/cli/main.js demo` as its own process on free ports, in
 * a Redis namespace of its own (the demo clears its namespace at start, so
 * a developer's running demo is left alone), and reads the addresses from
 * its banner. Stopped and its namespace dropped when the test ends.
 */
export async function startDemo (t: Test): Promise<RunningDemo> {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('ui')
  const child = spawn(process.execPath, ['dist/cli/main.js', 'demo'], {
    env: { ...process.env, SHADOWRAMP_PORT: '0', SHADOWRAMP_ADMIN_PORT: '0', SHADOWRAMP_DEMO_NAMESPACE: namespace, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(async () => {
    await stopWithin(child, 'SIGINT')
    await dropNamespace(redisUrl, namespace)
  })
  const banner = await readBanner(child)

  return { gatewayUrl: banner.gateway, adminUrl: banner.admin, namespace }
}

async function readBanner (child: ChildProcess): Promise<Record<'gateway' | 'admin', string>> {
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })

  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo printed no banner within ${startTimeoutMs} ms:\n${stdout}\n${stderr}`)), startTimeoutMs)
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`the demo exited with ${code}:\n${stdout}\n${stderr}`)) }
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const gateway = /^\s+gateway\s+(http:\/\/\S+)/m.exec(stdout)?.[1]
      const admin = /^\s+admin\s+(http:\/\/\S+)/m.exec(stdout)?.[1]
      if (gateway === undefined || admin === undefined) return

      clearTimeout(timer)
      child.off('exit', onExit)
      resolve({ gateway, admin })
    })
  })
}

/**
 * The demo's traffic driver against the gateway, for at most
 * `durationSeconds`; stopped early when the test ends.
 */
export function startTraffic (t: Test, gatewayUrl: string, durationSeconds: number): ChildProcess {
  const child = spawn(process.execPath, ['dist/demo/traffic.js', '--url', gatewayUrl, '--rate', '150', '--duration', String(durationSeconds)], {
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(async () => { await stopWithin(child, 'SIGTERM') })

  return child
}

/** Asks a child to stop, and kills it when it has not within a few seconds. */
async function stopWithin (child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return

  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill(signal)
  })
}
