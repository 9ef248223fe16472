#!/usr/bin/env node
/**
 * `npm run demo:traffic`: a steady, bounded stream of shop requests from
 * many simulated users against the demo gateway, with a summary every few
 * seconds of who served what.
 *
 * options: --url (default http://127.0.0.1:8080), --rate requests a second
 * (80), --duration seconds (600), --users (1000).
 */
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { drawRequest } from './traffic-mix.js'

const values = readOptions()

const base = values.url.replace(/\/+$/, '')
const rate = boundedNumber(values.rate, 1, 2_000, 'rate')
const durationSeconds = boundedNumber(values.duration, 1, 3_600, 'duration')
const users = boundedNumber(values.users, 1, 1_000_000, 'users')
/** Requests still waiting beyond this are not joined by new ones: the demo never piles up. */
const maxInFlight = 256

const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 })
const window = newWindow()
let inFlight = 0
let total = 0
/** Over the whole run, for the last line. */
const whole = { answered: 0, errors: 0 }
/** Who served, always in this order, so that lines read alike; anything else after. */
const serverOrder = ['baseline', 'candidate', 'fallback']

function newWindow () {
  return { sent: 0, answered: 0, skipped: 0, errors: 0, byServer: new Map<string, number>(), byStatus: new Map<string, number>(), latencies: [] as number[] }
}

async function sendOne (): Promise<void> {
  if (inFlight >= maxInFlight) { window.skipped++; return }

  const drawn = drawRequest()
  const user = `user-${Math.floor(Math.random() * users)}`
  const started = performance.now()
  inFlight++
  window.sent++
  total++
  try {
    const response = await request(base + drawn.path, {
      dispatcher,
      method: drawn.method,
      headers: { 'x-user-id': user, 'content-type': 'application/json', accept: 'application/json' },
      body: drawn.body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000
    })
    await response.body.dump({ limit: 1 << 20 })
    window.answered++
    whole.answered++
    count(window.byServer, String(response.headers['x-served-by'] ?? 'none'))
    count(window.byStatus, `${Math.floor(response.statusCode / 100)}xx`)
    window.latencies.push(performance.now() - started)
  } catch {
    window.errors++
    whole.errors++
  } finally {
    inFlight--
  }
}

function count (map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

function report (seconds: number): void {
  const sorted = window.latencies.sort((a, b) => a - b)
  const at = (q: number): string => sorted.length === 0 ? '-' : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number).toFixed(1)
  const rank = (name: string): number => { const at = serverOrder.indexOf(name); return at === -1 ? serverOrder.length : at }
  const served = [...window.byServer].sort(([a], [b]) => rank(a) - rank(b)).map(([name, n]) => `${name} ${n}`).join(', ')
  const statuses = [...window.byStatus].map(([name, n]) => `${name} ${n}`).join(', ')
  // Answers count in the interval they arrive, so a line's answers can
  // outnumber what it sent: some were sent in the interval before.
  process.stdout.write(`[${seconds}s] sent ${window.sent} (${total} in all) · answered ${window.answered}: ` +
    `served by ${served || '-'} · ${statuses || '-'} · ` +
    `p50 ${at(0.5)} ms p99 ${at(0.99)} ms · errors ${window.errors}${window.skipped > 0 ? ` · skipped ${window.skipped}` : ''}\n`)
  Object.assign(window, newWindow())
}

/** The command line, or a one-line reason and exit 2: a mistyped flag deserves no stack trace. */
function readOptions () {
  try {
    return parseArgs({
      options: {
        url: { type: 'string', default: process.env.SHADOWRAMP_URL ?? 'http://127.0.0.1:8080' },
        rate: { type: 'string', default: '80' },
        duration: { type: 'string', default: '600' },
        users: { type: 'string', default: '1000' }
      }
    }).values
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]?.replace(/\.$/, '')
    process.stderr.write(`demo:traffic: ${reason}; options: --url, --rate, --duration, --users\n`)
    process.exit(2)
  }
}

function boundedNumber (text: string, min: number, max: number, name: string): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value < min || value > max) {
    process.stderr.write(`demo:traffic: --${name} must be a number from ${min} to ${max}, got ${text}\n`)
    process.exit(2)
  }
  return value
}

process.stdout.write(`sending about ${rate} requests a second from ${users} users to ${base} for ${durationSeconds} s (Ctrl-C stops)\n`)
const started = Date.now()
const tickMs = 20
let owed = 0
const ticker = setInterval(() => {
  owed += (rate * tickMs) / 1_000
  for (; owed >= 1; owed--) void sendOne()
}, tickMs)
const reporter = setInterval(() => report(Math.round((Date.now() - started) / 1_000)), 5_000)

const stop = (): void => {
  clearInterval(ticker)
  clearInterval(reporter)
  setTimeout(() => {
    report(Math.round((Date.now() - started) / 1_000))
    const waiting = inFlight > 0 ? `, still waiting ${inFlight}` : ''
    process.stdout.write(`done: sent ${total}, answered ${whole.answered}, errors ${whole.errors}${waiting}\n`)
    void dispatcher.close()
  }, 500)
}
setTimeout(stop, durationSeconds * 1_000)
process.once('SIGINT', stop)
