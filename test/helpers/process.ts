import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'

export interface GatewayProcess {
  child: ChildProcess
  gatewayUrl: string
  adminUrl: string
  /** Every JSON log line the process has written so far. */
  logs: Array<Record<string, unknown>>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * Runs `shadowramp serve` from dist/ as its own process with the given
 * configuration, and resolves once it logs the addresses it serves on.
 */
export async function spawnGateway (config: object, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-gateway-'))
  const file = join(dir, 'config.yaml')
  writeFileSync(file, stringify(config))
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })

  const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 20_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code}: ${stderr}`)) })
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>
        logs.push(entry)
        if (entry.msg === 'shadowramp serving') { clearTimeout(timer); resolve(entry) }
      }
    })
  })
  child.removeAllListeners('exit')

  return {
    child,
    gatewayUrl: serving.gateway as string,
    adminUrl: serving.admin as string,
    logs,
    stop: async (signal = 'SIGTERM') => await stopProcess(child, signal)
  }
}

export async function stopProcess (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode

  return await new Promise((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.kill(signal)
  })
}
