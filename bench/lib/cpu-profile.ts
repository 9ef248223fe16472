import { readFile } from 'node:fs/promises'

/** The parts of a V8 .cpuprofile (`node --cpu-prof`) the benchmarks read. */
export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

export interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** A sampled function's time, and its share of the busy time (0 to 1). */
export interface TimeShare {
  name: string
  ms: number
  share: number
}

export type SampleVisitor = (leaf: ProfileNode, ms: number, stack: () => CallFrame[]) => void

/**
 * Reads one profile and hands every busy sample to `visit`: the function
 * running, the time the sample stands for, and the frames on its stack
 * (innermost first), built only when asked for. Returns the idle time, ms.
 */
export async function visitSamples (file: string, visit: SampleVisitor): Promise<number> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id)
  }
  const stackOf = (leaf: ProfileNode): CallFrame[] => {
    const frames: CallFrame[] = []
    for (let id: number | undefined = leaf.id; id !== undefined; id = parents.get(id)) {
      const frame = nodes.get(id)?.callFrame
      if (frame !== undefined) frames.push(frame)
    }
    return frames
  }

  let idleMs = 0
  profile.samples.forEach((id, index) => {
    const node = nodes.get(id)
    const ms = (profile.timeDeltas[index] ?? 0) / 1_000
    if (node === undefined || ms <= 0) return
    if (node.callFrame.functionName === '(idle)') { idleMs += ms; return }

    visit(node, ms, () => stackOf(node))
  })

  return idleMs
}

export function addTo (totals: Map<string, number>, key: string, ms: number): void {
  totals.set(key, (totals.get(key) ?? 0) + ms)
}

/** The `top` largest totals, with their shares of `busyMs`. */
export function rank (totals: Map<string, number>, busyMs: number, top: number): TimeShare[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }))
}
