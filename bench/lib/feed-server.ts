/**
 * The realistic upstream, run as its own process by startUpstream: a plain
 * node:http server answering every path with the same feed page.
 *
 * Arguments: --delay-ms <n> (wait before answering), --differences (serve
 * the variant that differs in a few fields), --differences-share <0..1>
 * (serve that variant on this share of requests, the feed on the rest). It
 * tells its parent the port over IPC and exits when the parent goes away,
 * so a killed benchmark never leaves it running.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { encodeFeed } from './feed.js'

export interface FeedServerReady {
  port: number
  bytes: number
}

const { values } = parseArgs({
  options: {
    'delay-ms': { type: 'string', default: '0' },
    differences: { type: 'boolean', default: false },
    'differences-share': { type: 'string' }
  }
})

interface Answer {
  body: Buffer
  headers: Record<string, string>
}

const delayMs = Number(values['delay-ms'])
const differencesShare = readShare(values['differences-share'], values.differences ? 1 : 0)
const plain = prepareAnswer(encodeFeed())
const differing = prepareAnswer(encodeFeed({ withDifferences: true }))
// The size reported to the parent is that of the answer most requests get.
const usual = differencesShare >= 0.5 ? differing : plain
let answered = 0

const server = createServer((request, response) => answerFeed(request, response))

// Longer than any client's idle timeout, so the server is never the side
// that closes an idle keep-alive connection under a client's feet.
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  const ready: FeedServerReady = { port, bytes: usual.body.length }
  process.send?.(ready)
})

process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))

function answerFeed (request: IncomingMessage, response: ServerResponse): void {
  request.resume()
  if (delayMs <= 0) {
    sendFeed(response)
    return
  }

  setTimeout(sendFeed, delayMs, response)
}

function sendFeed (response: ServerResponse): void {
  const answer = chooseAnswer()
  response.writeHead(200, answer.headers)
  response.end(answer.body)
}

/**
 * Spreads the differing answers evenly rather than at random: with a share
 * of 0.05, exactly one request in twenty gets them, so every phase of a
 * benchmark sees the same mix however short it is.
 */
function chooseAnswer (): Answer {
  const before = Math.floor(answered * differencesShare)
  answered += 1

  return Math.floor(answered * differencesShare) > before ? differing : plain
}

function prepareAnswer (encoded: Buffer): Answer {
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(encoded.length),
    'cache-control': 'no-store'
  }

  return { body: encoded, headers }
}

function readShare (text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback

  const share = Number(text)
  if (!Number.isFinite(share) || share < 0 || share > 1) {
    throw new Error(`--differences-share expects a fraction from 0 to 1, found ${text}`)
  }

  return share
}
