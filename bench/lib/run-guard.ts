import { setTimeout as sleep } from 'node:timers/promises'
import { stopAllChildren } from './child-processes.js'
import { runCleanups } from './cleanup-tasks.js'
import { generatorHeapWarning } from './node-flags.js'

const stopGraceMs = 8_000
let finishing = false

/**
 * Runs a benchmark under a hard deadline and always stops its children on
 * the way out: after success, an error, Ctrl-C, SIGTERM or the deadline.
 * A second Ctrl-C while stopping exits at once (children are then killed).
 */
export function runBench (main: () => Promise<void>, deadlineMs: number): void {
  const seconds = Math.round(deadlineMs / 1_000)
  const heapWarning = generatorHeapWarning(process.execArgv)
  if (heapWarning !== undefined) process.stderr.write(`bench: warning: ${heapWarning}\n`)
  // The deadline timer stays referenced: a run stuck on nothing at all
  // must end as a failure, not as a quiet exit. finish ends the process,
  // so the timer never needs clearing.
  setTimeout(() => {
    void finish(1, `the benchmark passed its deadline of ${seconds} s and was stopped`)
  }, deadlineMs)

  process.on('SIGINT', () => onSignal(130, 'interrupted'))
  process.on('SIGTERM', () => onSignal(143, 'terminated'))
  process.on('uncaughtException', (error) => { void finish(1, error) })
  process.on('unhandledRejection', (error) => { void finish(1, error) })

  void main().then(async () => await finish(0), async (error: unknown) => await finish(1, error))
}

function onSignal (code: number, what: string): void {
  if (finishing) process.exit(code)

  void finish(code, what)
}

/** The first outcome wins; a failure caused by stopping does not cut stopping short. */
async function finish (code: number, error?: unknown): Promise<void> {
  if (finishing) return
  finishing = true
  if (error !== undefined) process.stderr.write(`bench: ${describeError(error)}\n`)

  // Children first: a gateway still running could write to the Redis
  // namespace that a cleanup task is about to drop.
  const stopped = async (): Promise<void> => {
    await stopAllChildren()
    await runCleanups()
  }
  await Promise.race([stopped(), sleep(stopGraceMs, undefined, { ref: false })])
  process.exit(code)
}

function describeError (error: unknown): string {
  if (error instanceof Error) return error.stack ?? error.message

  return String(error)
}
