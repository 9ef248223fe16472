import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'

/** A distinct warn-or-worse message and how often it was written. */
export interface NotableLine {
  level: string
  msg: string
  count: number
}

/** What a child wrote, reduced to what a benchmark report needs. */
export interface ProcessLogSummary {
  /** pino lines by level name, plus `text` for lines that are not JSON. */
  counts: Record<string, number>
  /** The first few distinct warn-or-worse messages, in order of appearance. */
  notable: NotableLine[]
}

export interface ProcessLogWatch {
  /** The latest lines, for an error message when the child dies. */
  tail: () => string[]
  summary: () => ProcessLogSummary
}

const levelNames: Record<number, string> = {
  10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal'
}
const tailLength = 40
const notableLimit = 10

/**
 * Reads a child's output line by line as it comes. Reading it at all
 * matters: a child writing to a full pipe blocks, and a blocked gateway
 * would show up as latency.
 */
export function watchProcessLog (streams: Array<Readable | null>): ProcessLogWatch {
  const lines: string[] = []
  const counts: Record<string, number> = {}
  const notable = new Map<string, NotableLine>()

  for (const stream of streams) {
    if (stream === null) continue
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line)
      if (lines.length > tailLength) lines.shift()
      countLine(line, counts, notable)
    })
  }

  return {
    tail: () => [...lines],
    summary: () => ({ counts: { ...counts }, notable: [...notable.values()] })
  }
}

/** Text lines (a crash's stack, say) count as notable: pino never writes them. */
function countLine (line: string, counts: Record<string, number>, notable: Map<string, NotableLine>): void {
  const entry = parseLogLine(line)
  const level = entry === undefined ? 'text' : levelNames[entry.level] ?? String(entry.level)
  counts[level] = (counts[level] ?? 0) + 1
  if (entry !== undefined && entry.level < 40) return

  const msg = entry?.msg ?? line.slice(0, 200)
  const key = `${level} ${msg}`
  const seen = notable.get(key)
  if (seen !== undefined) {
    seen.count += 1
    return
  }

  if (notable.size < notableLimit) notable.set(key, { level, msg, count: 1 })
}

function parseLogLine (line: string): { level: number, msg: string } | undefined {
  if (!line.startsWith('{')) return undefined

  try {
    const parsed = JSON.parse(line) as { level?: unknown, msg?: unknown }
    if (typeof parsed.level !== 'number') return undefined
    return { level: parsed.level, msg: typeof parsed.msg === 'string' ? parsed.msg : '' }
  } catch {
    return undefined
  }
}
