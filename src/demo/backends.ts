import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { freePort } from '../store/redis-bootstrap.js'

export interface DemoBackends {
  baselineUrl: string
  candidateUrl: string
  /** Where each server's database copy and log live. */
  workDir: string
  stop: () => Promise<void>
}

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

/**
 * Starts the demo's two real servers, json-server 0.17.4 (baseline) and
 * 1.0.0-beta.3 (candidate), each on its own fresh copy of the database:
 * both rewrite their file on every write.
 */
export async function startDemoBackends (databaseFile: string): Promise<DemoBackends> {
  const workDir = mkdtempSync(join(tmpdir(), 'shadowramp-demo-'))
  const [baselinePort, candidatePort] = [await freePort(), await freePort()]
  const baseline = spawnBaseline(prepareDir(workDir, 'baseline', databaseFile), baselinePort)
  const candidate = spawnCandidate(prepareDir(workDir, 'candidate', databaseFile), candidatePort)
  const baselineUrl = `http://127.0.0.1:${baselinePort}`
  const candidateUrl = `http://127.0.0.1:${candidatePort}`
  const stop = async (): Promise<void> => {
    await Promise.all([stopChild(baseline), stopChild(candidate)])
    rmSync(workDir, { recursive: true, force: true })
  }

  try {
    await Promise.all([waitUntilServing(baselineUrl, baseline), waitUntilServing(candidateUrl, candidate)])
  } catch (error) {
    await stop()
    throw error
  }

  return { baselineUrl, candidateUrl, workDir, stop }
}

function prepareDir (workDir: string, name: string, databaseFile: string): string {
  const dir = join(workDir, name)
  mkdirSync(join(dir, 'public'), { recursive: true })
  copyFileSync(databaseFile, join(dir, 'db.json'))

  return dir
}

function spawnBaseline (dir: string, port: number): ChildProcess {
  const bin = join(dirname(require.resolve('json-server-baseline/package.json')), 'lib/cli/bin.js')
  // --ng and --nc (no gzip, no CORS): the long forms are ignored by this version.
  const args = [bin, '--host', '127.0.0.1', '--port', String(port), '--ng', '--nc', join(dir, 'db.json')]

  return spawnLogged(args, dir)
}

function spawnCandidate (dir: string, port: number): ChildProcess {
  return spawnLogged([join(here, 'candidate-server.js'), String(port), join(dir, 'db.json')], dir)
}

/** Output goes to a file: json-server 0.17 exits when its stdout pipe closes. */
function spawnLogged (args: string[], dir: string): ChildProcess {
  const log = openSync(join(dir, 'server.log'), 'a')

  return spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', log, log] })
}

async function waitUntilServing (url: string, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`demo server for ${url} exited with code ${child.exitCode}`)
    try {
      const response = await request(`${url}/settings`)
      await response.body.dump()
      if (response.statusCode === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  throw new Error(`demo server for ${url} did not start within ${timeoutMs} ms`)
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return

  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}
