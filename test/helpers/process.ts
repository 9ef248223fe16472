import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { unshedShadow } from './gateway.js'

export interface GatewayProcess {
  child: ChildProcess
  gatewayUrl: string
  adminUrl: string
  /** Every JSON log line the process has written so far. */
  logs: Array<Record<string, unknown>>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export interface WorkerProcess {
  child: ChildProcess
  metricsUrl: string
  logs: Array<Record<string, unknown>>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * Runs `shadowramp serve` from dist/ as its own process with the given
 * configuration, and resolves once it logs the addresses it serves on.
 */
export async function spawnGateway (config: object, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const { child, logs, ready } = spawnCommand('serve', config, env, 'shadowramp serving')
  const serving = await ready

  return {
    child,
    gatewayUrl: serving.gateway as string,
    adminUrl: serving.admin as string,
    logs,
    stop: async (signal = 'SIGTERM') => await stopProcess(child, signal)
  }
}

/** Runs `shadowramp worker` from dist/ as its own process. */
export async function spawnWorker (config: object, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const { child, logs, ready } = spawnCommand('worker', config, env, 'diff worker running')
  const running = await ready

  return { child, metricsUrl: running.metrics as string, logs, stop: async (signal = 'SIGTERM') => await stopProcess(child, signal) }
}

/** Starts a command with its configuration written to a file; `ready` resolves on the log line named. */
function spawnCommand (command: string, config: object, env: Record<string, string>, readyMessage: string): { child: ChildProcess, logs: Array<Record<string, unknown>>, ready: Promise<Record<string, unknown>> } {
  const dir = mkdtempSync(join(tmpdir(), `sr-${command}-`))
  const file = join(dir, 'config.yaml')
  // The ready line is logged at info.
  const { log, shadow } = config as { log?: object, shadow?: object }
  writeFileSync(file, stringify({ ...config, log: { ...log, level: 'info', requests: false }, shadow: { ...unshedShadow, ...shadow } }))
  const child = spawn(process.execPath, ['dist/cli/main.js', command, '--config', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })

  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${stderr}`)), 20_000)
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`${command} exited with ${code}: ${stderr}`)) }
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>
        logs.push(entry)
        if (entry.msg === readyMessage) { clearTimeout(timer); child.off('exit', onExit); resolve(entry) }
      }
    })
  })

  return { child, logs, ready }
}

export async function stopProcess (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode

  return await new Promise((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.kill(signal)
  })
}
