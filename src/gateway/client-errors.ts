import type { Socket } from 'node:net'
import type { Counter } from 'prom-client'
import type { Logger } from '../telemetry/logger.js'

interface Refusal {
  status: number
  kind: string
  message: string
}

/** What the HTTP parser's and server's errors mean for the client. */
function describeClientError (code: string | undefined): Refusal {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, kind: 'request-timeout', message: 'the request took too long to arrive' }
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, kind: 'header-too-large', message: 'the request head is larger than allowed' }
  if (code === 'HPE_UNEXPECTED_CONTENT_LENGTH' || code === 'HPE_INVALID_TRANSFER_ENCODING' || code === 'HPE_INVALID_CONTENT_LENGTH') {
    return { status: 400, kind: 'ambiguous-length', message: 'the request frames its body two ways (Content-Length and Transfer-Encoding) or badly' }
  }

  return { status: 400, kind: 'malformed', message: 'the request is not valid HTTP' }
}

/**
 * Answers requests the HTTP parser refused (malformed, smuggling attempts,
 * oversized heads, clients too slow) with a clear status and body, counts
 * them by kind and logs each at info: they are the client's fault, not a
 * degradation of the gateway. Nothing of them ever reaches a backend.
 */
export function createClientErrorHandler (logger: Logger, refused: Counter<'kind'>) {
  return function handleClientError (error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return

    const refusal = describeClientError(error.code)
    refused.inc({ kind: refusal.kind })
    logger.info({ code: error.code, kind: refusal.kind, remoteAddress: socket.remoteAddress }, `refused a request: ${refusal.message}`)
    if (socket.writable) {
      const body = JSON.stringify({ error: refusal.message, code: `SR_ERR_CLIENT_${refusal.kind.toUpperCase().replace(/-/g, '_')}` })
      socket.write(`HTTP/1.1 ${refusal.status} ${statusText(refusal.status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    }
    socket.destroy()
  }
}

function statusText (status: number): string {
  return status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
}
