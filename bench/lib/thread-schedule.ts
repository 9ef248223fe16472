import { readFileSync } from 'node:fs'

/**
 * How a process's main thread spent its time, from Linux's schedstat
 * (/proc/<pid>/task/<pid>/schedstat: ns on a CPU, ns runnable but waiting
 * for one). JavaScript runs on the main thread, so this separates work
 * from waiting for a core: on a machine whose cores other processes
 * share, wall-clock rates mix the two, and this tells them apart.
 */
export interface ThreadSchedule {
  runningMs: number
  /** Ready to run, but every core was busy with something else. */
  waitingMs: number
}

/** Undefined where /proc or schedstat is missing. */
export function readMainThreadSchedule (pid: number = process.pid): ThreadSchedule | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
    const [running, waiting] = text.split(' ').map(Number)
    if (running === undefined || waiting === undefined) return undefined
    if (!Number.isFinite(running + waiting)) return undefined

    return { runningMs: running / 1e6, waitingMs: waiting / 1e6 }
  } catch {
    return undefined
  }
}

/** What happened between two readings; NaN where either is missing. */
export function scheduleBetween (
  before: ThreadSchedule | undefined, after: ThreadSchedule | undefined
): ThreadSchedule {
  if (before === undefined || after === undefined) return { runningMs: Number.NaN, waitingMs: Number.NaN }

  const runningMs = after.runningMs - before.runningMs

  return { runningMs, waitingMs: after.waitingMs - before.waitingMs }
}
