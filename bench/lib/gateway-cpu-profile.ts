import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/**
 * Reads a gateway's V8 CPU profile (`node --cpu-prof`) and says where the
 * time went: the functions with the most self time, self time per area (a
 * file of shadowramp, an npm package, a part of Node), and shadowramp's
 * functions with the most total time (themselves and what they call).
 */
export interface GatewayProfileSummary {
  /** Sampled time, idle excluded, in ms. */
  busyMs: number
  idleMs: number
  topSelf: GatewayProfileEntry[]
  selfByArea: GatewayProfileEntry[]
  /** shadowramp's own functions (dist/, src/, bench/) by total time, callees included. */
  topOwnTotal: GatewayProfileEntry[]
}

export interface GatewayProfileEntry {
  name: string
  ms: number
  /** Of busy time, 0 to 1. */
  share: number
}

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const idle = '(idle)'

export async function summarizeGatewayProfile (file: string, top = 15): Promise<GatewayProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = findParents(profile.nodes)
  const self = new Map<string, number>()
  const areas = new Map<string, number>()
  const ownTotal = new Map<string, number>()
  let idleMs = 0
  let busyMs = 0

  profile.samples.forEach((id, index) => {
    const node = nodes.get(id)
    const ms = (profile.timeDeltas[index] ?? 0) / 1_000
    if (node === undefined || ms <= 0) return
    if (node.callFrame.functionName === idle) { idleMs += ms; return }

    busyMs += ms
    addTo(self, describeFrame(node.callFrame), ms)
    addTo(areas, areaOf(node.callFrame), ms)
    for (const name of ownFramesOnStack(node, nodes, parents)) addTo(ownTotal, name, ms)
  })

  return {
    busyMs,
    idleMs,
    topSelf: rank(self, busyMs, top),
    selfByArea: rank(areas, busyMs, top),
    topOwnTotal: rank(ownTotal, busyMs, top)
  }
}

function findParents (nodes: ProfileNode[]): Map<number, number> {
  const parents = new Map<number, number>()
  for (const node of nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id)
  }

  return parents
}

/** Each shadowramp function on the sample's stack, once even when recursive. */
function ownFramesOnStack (leaf: ProfileNode, nodes: Map<number, ProfileNode>, parents: Map<number, number>): Set<string> {
  const names = new Set<string>()
  let node: ProfileNode | undefined = leaf
  while (node !== undefined) {
    if (isOwn(node.callFrame.url)) names.add(describeFrame(node.callFrame))
    node = nodes.get(parents.get(node.id) ?? -1)
  }

  return names
}

function isOwn (url: string): boolean {
  const path = shortPath(url)

  return path.startsWith('dist/') || path.startsWith('src/') || path.startsWith('bench/')
}

function describeFrame (frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name

  return `${name} ${shortPath(frame.url)}:${frame.lineNumber + 1}`
}

/** A shadowramp file, an npm package, a part of Node, or V8's own (program, GC). */
function areaOf (frame: CallFrame): string {
  if (frame.url === '') return frame.functionName
  const path = shortPath(frame.url)
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (inPackage !== null) return `npm ${inPackage[1] ?? ''}`
  if (path.startsWith('node:')) return path.split('/').slice(0, 2).join('/')

  return path
}

/** Repository paths relative to its root; dist/ files keep the built file's line numbers. */
function shortPath (url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url

  return path.startsWith(repoRoot) ? path.slice(repoRoot.length) : path
}

function addTo (totals: Map<string, number>, key: string, ms: number): void {
  totals.set(key, (totals.get(key) ?? 0) + ms)
}

function rank (totals: Map<string, number>, busyMs: number, top: number): GatewayProfileEntry[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }))
}
