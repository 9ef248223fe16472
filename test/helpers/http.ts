import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

export interface TestBackend {
  url: string
  port: number
  requests: RecordedRequest[]
  server: Server
  close: () => Promise<void>
}

export type BackendHandler = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>

/** A real HTTP server on a free loopback port that records what it receives. */
export async function startBackend (handler: BackendHandler): Promise<TestBackend> {
  const requests: RecordedRequest[] = []
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const recorded = { method: incoming.method ?? '', url: incoming.url ?? '', headers: incoming.headers, body: Buffer.concat(chunks) }
      requests.push(recorded)
      void handler(recorded, response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    server,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Answers JSON with the given status. */
export function json (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  response.end(text)
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * Sends bytes exactly as written, for request lines and headers that an
 * HTTP client library would normalise away, and returns the raw answer.
 */
export async function rawRequest (url: string, text: string): Promise<string> {
  const { Socket } = await import('node:net')
  const { hostname, port } = new URL(url)

  return await new Promise((resolve, reject) => {
    const socket = new Socket()
    let answer = ''
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.connect(Number(port), hostname, () => socket.write(text))
  })
}
