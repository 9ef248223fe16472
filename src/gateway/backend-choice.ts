import type { IncomingHttpHeaders } from 'node:http'
import type { BackendName } from './upstream.js'
import { inCandidateShare, randomBucket, stickyBucket } from './sticky-bucket.js'

/** Reads a request's sticky key, or undefined when it carries none. */
export type StickyKeyReader = (headers: IncomingHttpHeaders, clientAddress: string | undefined) => string | undefined

export interface BackendChoice {
  backend: BackendName
  bucket: number
  /** Why this backend: the sticky share, a random draw, or a tester's header. */
  basis: 'sticky' | 'random' | 'forced'
}

/** Builds the reader for a `header:<name>`, `cookie:<name>` or `client-address` setting. */
export function createStickyKeyReader (setting: string): StickyKeyReader {
  if (setting === 'client-address') return (_headers, address) => address

  const separator = setting.indexOf(':')
  const kind = setting.slice(0, separator)
  const name = setting.slice(separator + 1)
  if (kind === 'header') {
    const header = name.toLowerCase()
    return (headers) => firstValue(headers[header])
  }

  return (headers) => readCookie(headers.cookie, name)
}

export function chooseBackend (route: string, key: string | undefined, percentage: number, forced: BackendName | undefined): BackendChoice {
  const bucket = key === undefined || key === '' ? randomBucket() : stickyBucket(route, key)
  if (forced !== undefined) return { backend: forced, bucket, basis: 'forced' }

  const backend = inCandidateShare(bucket, percentage) ? 'candidate' : 'baseline'
  return { backend, bucket, basis: key === undefined || key === '' ? 'random' : 'sticky' }
}

/** The backend a tester's header asks for, if the header is enabled and valid. */
export function readForcedBackend (headers: IncomingHttpHeaders, headerName: string | undefined): BackendName | undefined {
  if (headerName === undefined) return undefined

  const value = firstValue(headers[headerName])?.trim().toLowerCase()
  return value === 'candidate' || value === 'baseline' ? value : undefined
}

function firstValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined

  for (const part of header.split(';')) {
    const separator = part.indexOf('=')
    if (separator === -1) continue
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim()
  }

  return undefined
}
