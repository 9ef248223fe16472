import { readFileSync } from 'node:fs'

/**
 * Linux counts /proc/stat in clock ticks of 1/100 s (USER_HZ, which is 100
 * on every architecture it runs these benchmarks on; `getconf CLK_TCK`).
 */
const msPerTick = 10

/**
 * CPU time the hypervisor gave to other guests while this machine's
 * processes were ready to run ("steal", the eighth figure of the cpu line
 * of /proc/stat), in ms since boot, summed over the cores. Undefined where
 * the system does not report it.
 *
 * On a virtual machine whose host is busy, the processes of a benchmark
 * stop for milliseconds at a time, the gateway and the load alike; a slice
 * with such stalls says more about the host than about the gateway.
 */
export function readStealMs (stat: () => string = () => readFileSync('/proc/stat', 'utf8')): number | undefined {
  let text: string
  try {
    text = stat()
  } catch {
    return undefined
  }
  const cpuLine = text.split('\n', 1)[0] ?? ''
  const fields = cpuLine.trim().split(/\s+/)
  if (fields[0] !== 'cpu') return undefined
  const steal = Number(fields[8])

  return Number.isFinite(steal) ? steal * msPerTick : undefined
}

/**
 * The cycles in which the host took no more than `limitMs` from any slice:
 * `stealBySlice` holds, for each target, what the host took during each of
 * its slices (NaN where unknown, which counts as calm: there is nothing to
 * tell such a cycle from another). A cycle is kept or left out whole, for
 * every target alike, so that comparisons stay between slices of the same
 * cycles.
 */
export function calmCycles (stealBySlice: ReadonlyArray<readonly number[]>, limitMs: number): number[] {
  const cycles = Math.min(...stealBySlice.map((slices) => slices.length))
  const calm: number[] = []
  for (let cycle = 0; cycle < cycles; cycle++) {
    if (stealBySlice.every((slices) => !((slices[cycle] ?? Number.NaN) > limitMs))) calm.push(cycle)
  }

  return calm
}
