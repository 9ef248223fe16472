import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))
const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface MachineDescription {
  node: string
  platform: string
  cpuModel: string
  cpuCount: number
  totalMemoryMb: number
  freeMemoryMb: number
  /** 1, 5 and 15 minute load averages when the file was written. */
  loadAverage: number[]
  commit: string | undefined
  /** True when tracked files differed from the commit: the figures are then of the work tree. */
  uncommittedChanges: boolean | undefined
}

/**
 * Writes a benchmark's raw figures to bench/results/<name>-<timestamp>.json
 * and returns the path. The files are meant to be committed: the latest
 * one per benchmark is the reference the next run is read against.
 */
export async function writeResults (name: string, figures: unknown): Promise<string> {
  const writtenAt = new Date()
  const file = join(resultsDir, `${name}-${writtenAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const stamp = writtenAt.toISOString()
  const document = { benchmark: name, writtenAt: stamp, machine: describeMachine(), figures }

  await mkdir(resultsDir, { recursive: true })
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`)

  return file
}

export function describeMachine (): MachineDescription {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    freeMemoryMb: Math.round(freemem() / 2 ** 20),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    commit: readCommit(),
    uncommittedChanges: hasUncommittedChanges()
  }
}

/** Read-only git queries; undefined outside a git work tree. */
function readCommit (): string | undefined {
  try {
    const output = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
    return output.toString('utf8').trim()
  } catch {
    return undefined
  }
}

/**
 * Plumbing on purpose: `git diff` and `git status` may rewrite the index
 * to refresh it, taking its lock while someone else commits; diff-index
 * only reads. A file touched but unchanged can read as changed.
 */
function hasUncommittedChanges (): boolean | undefined {
  try {
    execFileSync('git', ['diff-index', '--quiet', 'HEAD', '--'], { cwd: repoRoot, stdio: 'ignore' })
    return false
  } catch (error) {
    return (error as { status?: unknown }).status === 1 ? true : undefined
  }
}
