import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { answersPing, freePort } from '../../src/store/redis-bootstrap.js'

export interface TestCluster {
  /** `redis://127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`: the form shadowramp reads as a cluster. */
  url: string
  ports: number[]
  stop: () => void
}

/**
 * A three-node Redis Cluster of redis-server processes on free loopback
 * ports, persistence off, its slots spread over the three primaries.
 */
export async function startRedisCluster (): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-cluster-'))
  const ports = [await freePort(), await freePort(), await freePort()]
  const servers: ChildProcess[] = ports.map((port) => spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000', '--dir', dir, '--loglevel', 'warning'
  ], { stdio: 'ignore' }))
  const stop = (): void => {
    for (const server of servers) server.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)

  try {
    for (const port of ports) await waitFor(async () => await answersPing('127.0.0.1', port), 5_000, `redis-server on ${port}`)
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 20_000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
    for (const port of ports) await waitFor(async () => clusterState(port) === 'ok', 10_000, `cluster state on ${port}`)
  } catch (error) {
    stop()
    throw error
  }

  return { url: `redis://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`, ports, stop }
}

function clusterState (port: number): string {
  const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8', timeout: 5_000 })
  return /cluster_state:(\w+)/.exec(info.stdout)?.[1] ?? ''
}

async function waitFor (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`)
}
