/**
 * The realistic upstream, run as its own process by startUpstream: a plain
 * node:http server answering every path with the same feed page.
 *
 * Arguments: --delay-ms <n> (wait before answering), --differences (serve
 * the variant that differs in a few fields). It tells its parent the port
 * over IPC and exits when the parent goes away, so a killed benchmark never
 * leaves it running.
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
    differences: { type: 'boolean', default: false }
  }
})

const delayMs = Number(values['delay-ms'])
const body = encodeFeed({ withDifferences: values.differences })
const headers = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(body.length),
  'cache-control': 'no-store'
}

const server = createServer((request, response) => answerFeed(request, response))

// Longer than any client's idle timeout, so the server is never the side
// that closes an idle keep-alive connection under a client's feet.
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  const ready: FeedServerReady = { port, bytes: body.length }
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
  response.writeHead(200, headers)
  response.end(body)
}
