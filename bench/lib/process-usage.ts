import { readdirSync, readFileSync } from 'node:fs'

/**
 * CPU time and memory of processes, read from /proc (Linux only; elsewhere
 * the figures are missing). On a machine whose cores the load generator
 * and the servers share, requests per second mostly show how the cores
 * were split; CPU time per request shows what each process costs,
 * whatever its share.
 */

/** Linux counts process CPU time in clock ticks of 1/100 s on every common build. */
const ticksPerSecond = 100

/** User plus system CPU time of a process so far, in ms; undefined where /proc is missing. */
export function readCpuMs (pid: number): number | undefined {
  if (pid === process.pid) return ownCpuMs()

  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name in field 2 may contain spaces; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1_000) / ticksPerSecond : undefined
  } catch {
    return undefined
  }
}

/** Resident memory in MB; undefined where /proc is missing. */
export function readRssMb (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kilobytes = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1])
    return Number.isFinite(kilobytes) ? Math.round(kilobytes / 1_024) : undefined
  } catch {
    return undefined
  }
}

/** Open file descriptors (sockets included): a leak of connections shows as growth. */
export function countOpenFiles (pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
}

function ownCpuMs (): number {
  const { user, system } = process.cpuUsage()

  return (user + system) / 1_000
}

/** A phase's result, and the CPU ms each named process used meanwhile (null where unknown). */
export interface MeasuredCpu<T> {
  result: T
  cpuMs: Record<string, number | null>
}

export async function measureCpu<T> (pids: Record<string, number>, phase: () => Promise<T>): Promise<MeasuredCpu<T>> {
  const names = Object.keys(pids)
  const before = names.map((name) => readCpuMs(pids[name] ?? 0))
  const result = await phase()
  const after = names.map((name) => readCpuMs(pids[name] ?? 0))

  const used = names.map((name, index) => [name, subtract(before[index], after[index])])
  return { result, cpuMs: Object.fromEntries(used) }
}

function subtract (before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : after - before
}
