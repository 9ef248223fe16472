import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

/** Headers that describe one connection, never forwarded (RFC 9110 §7.6.1). */
const hopByHop = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length'
])

export interface ForwardedFrom {
  clientAddress: string | undefined
  protocol: string
  host: string | undefined
  requestId: string
}

/**
 * The headers a backend receives: the client's, without hop-by-hop headers
 * (including those the client named in Connection), with X-Forwarded-* and
 * the request id set. Host and Content-Length are set by the caller.
 */
export function forwardRequestHeaders (incoming: IncomingHttpHeaders, from: ForwardedFrom, bodyLength: number | undefined): Record<string, string | string[]> {
  const named = connectionTokens(incoming.connection)
  const headers: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || hopByHop.has(name) || named?.has(name) === true) continue
    headers[name] = value
  }

  const priorFor = incoming['x-forwarded-for']
  const chain = typeof priorFor === 'string' && priorFor !== '' ? `${priorFor}, ` : ''
  headers['x-forwarded-for'] = chain + (from.clientAddress ?? 'unknown')
  headers['x-forwarded-proto'] = from.protocol
  if (from.host !== undefined) headers['x-forwarded-host'] = from.host
  headers['x-request-id'] = from.requestId
  if (bodyLength !== undefined) headers['content-length'] = String(bodyLength)

  return headers
}

/**
 * The backend's response headers as the client gets them: without
 * hop-by-hop headers. Content-Length is kept, the body is passed through
 * unchanged.
 */
export function forwardResponseHeaders (incoming: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const named = connectionTokens(incoming.connection)
  const headers: OutgoingHttpHeaders = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || (hopByHop.has(name) && name !== 'content-length') || named?.has(name) === true) continue
    headers[name] = value
  }

  return headers
}

function connectionTokens (value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined

  const text = Array.isArray(value) ? value.join(',') : value
  return new Set(text.split(',').map((token) => token.trim().toLowerCase()).filter((token) => token !== ''))
}
