import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { addTo, rank, visitSamples, type CallFrame, type TimeShare } from './cpu-profile.js'

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
    idleMs += await visitSamples(join(dir, file), (leaf, ms, stack) => {
      addTo(self, describeFrame(leaf.callFrame), ms)
      addTo(bySteps, classifySample(leaf.callFrame, stack), ms)
    })
  }

  const activeMs = [...bySteps.values()].reduce((sum, ms) => sum + ms, 0)

  return {
    files: files.map((file) => join(dir, file)),
    activeMs,
    idleMs,
    bySteps: rank(bySteps, activeMs, bySteps.size),
    topSelf: rank(self, activeMs, topCount)
  }
}

function classifySample (leaf: CallFrame, stack: () => CallFrame[]): string {
  const { functionName, url } = leaf
  if (functionName === '(garbage collector)') return 'garbage collector (main thread)'
  if (functionName === '(program)') return 'V8 and native code outside JS: (program)'

  const frames = stack()
  for (const [step, matches] of steps) if (frames.some(matches)) return step

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
