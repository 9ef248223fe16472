import { once } from 'node:events'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Connections a process holds open to one port, from /proc (Linux only):
 * how many shadow requests a proxy had in flight to a slow backend, seen
 * from outside the proxy, whatever the proxy's own metrics say.
 */

/** The TCP state /proc/net/tcp writes as 01. */
const established = '01'

/** A loopback port free at the time of asking (another process may take it before it is used). */
export async function reserveLoopbackPort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))

  return typeof address === 'object' && address !== null ? address.port : 0
}

/** Established TCP connections from these processes to `port` on any local address; undefined without /proc. */
export function countConnectionsTo (pids: number[], port: number): number | undefined {
  const inodes = new Set<string>()
  for (const pid of pids) addSocketInodes(pid, inodes)
  const table = readTcpTable(pids[0] ?? 0)
  if (table === undefined) return undefined

  const remotePort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let count = 0
  for (const line of table) {
    const fields = line.trim().split(/\s+/)
    const [, , remote, state] = fields
    if (state !== established || remote?.endsWith(remotePort) !== true) continue
    if (inodes.has(fields[9] ?? '')) count += 1
  }

  return count
}

/** The highest count seen while `phase` runs, read every `intervalMs`. */
export interface ConnectionTrace<T> {
  result: T
  peak: number | undefined
}

export async function tracePeakConnections<T> (
  pids: () => number[], port: number, intervalMs: number, phase: () => Promise<T>
): Promise<ConnectionTrace<T>> {
  let peak: number | undefined
  const read = (): void => {
    const count = countConnectionsTo(pids(), port)
    if (count !== undefined) peak = Math.max(peak ?? 0, count)
  }
  const timer = setInterval(read, intervalMs)

  try {
    const result = await phase()
    read()
    return { result, peak }
  } finally {
    clearInterval(timer)
  }
}

function addSocketInodes (pid: number, inodes: Set<string>): void {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return
  }

  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (match?.[1] !== undefined) inodes.add(match[1])
    } catch {}
  }
}

/** IPv4 and IPv6 sockets of the process's network namespace, header lines dropped. */
function readTcpTable (pid: number): string[] | undefined {
  const lines: string[] = []
  let found = false
  for (const file of ['tcp', 'tcp6']) {
    try {
      lines.push(...readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1))
      found = true
    } catch {}
  }

  return found ? lines : undefined
}
