import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The parts of a V8 .cpuprofile (node --cpu-prof) read here. */
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
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

export interface TimeShare {
  name: string
  ms: number
  /** Share of the time the process was not idle, 0 to 1. */
  share: number
}

export interface ProfileSummary {
  files: string[]
  /** Sampled time when the main thread was not idle. */
  activeMs: number
  idleMs: number
  /** Every sample given to one step of the worker, by the frames on its stack. */
  bySteps: TimeShare[]
  /** Functions with the most self time. */
  topSelf: TimeShare[]
}

/**
 * A worker's steps, tried in order against a sample's whole stack: the
 * first that matches gets the sample. Judging comes first, so what a
 * judged pair calls (JSON.parse, deep-diff) counts as judging; replies
 * read from a socket have no caller on the stack and count as reading.
 */
const steps: Array<[string, (frame: CallFrame) => boolean]> = [
  ['judging pairs: judgePair (decode, parse, normalize, compare)', named('judgePair')],
  ['adding verdicts to the figures: recordPairs (plan, EVAL)', named('recordPairs')],
  ['decoding batches: decodePairs', named('decodePairs')],
  ['start-up: loading modules', (frame) => frame.url.startsWith('node:internal/modules/')],
  ['BullMQ: taking, locking and finishing jobs', within(/\/node_modules\/bullmq\//)],
  ['Redis client: parsing replies (redis-parser, ioredis)', within(/redis-parser\/|DataHandler/)],
  ['Redis client: sending commands (ioredis)', within(/\/node_modules\/ioredis\//)],
  ['metrics: prom-client (per-pair histogram, GC observer)', within(/\/node_modules\/prom-client\//)],
  ['logging and the metrics listener (pino, fastify)', within(/\/(pino|fastify|@fastify|avvio)\//)],
  ['other shadowramp code', within(/\/dist\//)]
]

function named (name: string): (frame: CallFrame) => boolean {
  return (frame) => frame.functionName === name
}

function within (pattern: RegExp): (frame: CallFrame) => boolean {
  return (frame) => pattern.test(frame.url)
}

/** Reads every .cpuprofile in a directory and sums them. */
export async function summarizeProfiles (dir: string, topCount = 15): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort()
  const self = new Map<string, number>()
  const bySteps = new Map<string, number>()
  let idleMs = 0
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile
    idleMs += addProfile(profile, self, bySteps)
  }

  const activeMs = [...bySteps.values()].reduce((sum, ms) => sum + ms, 0)
  const toShares = (times: Map<string, number>, limit: number): TimeShare[] => [...times]
    .sort((a, b) => b[1] - a[1]).slice(0, limit)
    .map(([name, ms]) => ({ name, ms, share: activeMs === 0 ? 0 : ms / activeMs }))

  return {
    files: files.map((file) => join(dir, file)),
    activeMs,
    idleMs,
    bySteps: toShares(bySteps, bySteps.size),
    topSelf: toShares(self, topCount)
  }
}

/** Adds one profile's sampled times to the totals; returns its idle time. */
function addProfile (
  profile: CpuProfile, self: Map<string, number>, bySteps: Map<string, number>
): number {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id)
  }

  let idleMs = 0
  profile.samples.forEach((nodeId, index) => {
    const node = nodes.get(nodeId)
    const ms = (profile.timeDeltas[index] ?? 0) / 1_000
    if (node === undefined) return
    if (node.callFrame.functionName === '(idle)') { idleMs += ms; return }

    add(self, describeFrame(node.callFrame), ms)
    add(bySteps, classifySample(node, nodes, parents), ms)
  })

  return idleMs
}

function classifySample (
  leaf: ProfileNode, nodes: Map<number, ProfileNode>, parents: Map<number, number>
): string {
  const { functionName, url } = leaf.callFrame
  if (functionName === '(garbage collector)') return 'garbage collector (main thread)'
  if (functionName === '(program)') return 'V8 and native code outside JS: (program)'

  const stack: CallFrame[] = []
  for (let id: number | undefined = leaf.id; id !== undefined; id = parents.get(id)) {
    const frame = nodes.get(id)?.callFrame
    if (frame !== undefined) stack.push(frame)
  }
  for (const [step, matches] of steps) if (stack.some(matches)) return step

  return url.startsWith('node:') || url === ''
    ? 'Node core: event loop, sockets, streams, timers'
    : 'other'
}

function describeFrame (frame: CallFrame): string {
  const { functionName, url, lineNumber } = frame
  const name = functionName === '' ? '(anonymous)' : functionName
  if (url === '') return name

  const where = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, 'dist/')
  return `${name} ${where}:${lineNumber + 1}`
}

function add (totals: Map<string, number>, key: string, ms: number): void {
  totals.set(key, (totals.get(key) ?? 0) + ms)
}
