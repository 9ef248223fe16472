import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'

/** Every child a benchmark started and that has not exited yet. */
const running = new Set<ChildProcess>()

// Last resort when the benchmark exits without stopping its children (an
// uncaught error, process.exit): 'exit' handlers must be synchronous, so
// there is no grace period here.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** Registers a child so that stopAllChildren and process exit reach it. */
export function trackChild (child: ChildProcess): void {
  running.add(child)
  child.once('exit', () => running.delete(child))
}

export function hasExited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** SIGTERM, then SIGKILL if the child is still there after the grace period. */
export async function stopChild (child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (hasExited(child)) return

  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  // A child stopped with SIGSTOP (a paused Redis) holds SIGTERM until it
  // is continued; to a running child SIGCONT means nothing.
  child.kill('SIGCONT')
  const gaveUp = sleep(graceMs, false, { ref: false })
  const stoppedInTime = await Promise.race([exited.then(() => true), gaveUp])
  if (stoppedInTime) return

  child.kill('SIGKILL')
  await exited
}

export async function stopAllChildren (): Promise<void> {
  await Promise.all([...running].map(async (child) => await stopChild(child)))
}
