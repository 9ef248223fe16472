import { fileURLToPath } from 'node:url'
import { addTo, rank, visitSamples, type CallFrame, type TimeShare } from './cpu-profile.js'

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
  topSelf: TimeShare[]
  selfByArea: TimeShare[]
  /** shadowramp's own functions (dist/, src/, bench/) by total time, callees included. */
  topOwnTotal: TimeShare[]
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export async function summarizeGatewayProfile (file: string, top = 15): Promise<GatewayProfileSummary> {
  const self = new Map<string, number>()
  const areas = new Map<string, number>()
  const ownTotal = new Map<string, number>()
  let busyMs = 0
  const idleMs = await visitSamples(file, (leaf, ms, stack) => {
    busyMs += ms
    addTo(self, describeFrame(leaf.callFrame), ms)
    addTo(areas, areaOf(leaf.callFrame), ms)
    // Each shadowramp function on the stack once, even when recursive.
    const own = new Set(stack().filter((frame) => isOwn(frame.url)).map(describeFrame))
    for (const name of own) addTo(ownTotal, name, ms)
  })

  return {
    busyMs,
    idleMs,
    topSelf: rank(self, busyMs, top),
    selfByArea: rank(areas, busyMs, top),
    topOwnTotal: rank(ownTotal, busyMs, top)
  }
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
