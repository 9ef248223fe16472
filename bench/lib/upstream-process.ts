import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { stopChild, trackChild } from './child-processes.js'
import type { FeedServerReady } from './feed-server.js'

export interface UpstreamOptions {
  /** Serve the variant of the feed that differs in a few fields. Default false. */
  withDifferences?: boolean
  /**
   * Serve the differing variant on this share of requests (0 to 1), spread
   * evenly, and the feed on the rest. Overrides withDifferences when set.
   */
  differencesShare?: number
  /** Wait this long before each answer, e.g. for a slow shadow backend. Default 0. */
  delayMs?: number
  /** Give up when the process has not reported its port by then. Default 10 000. */
  startTimeoutMs?: number
}

export interface RunningUpstream {
  /** Origin on 127.0.0.1; every path answers with the feed. */
  url: string
  /** Size of each answer's body. */
  bytes: number
  pid: number
  stop: () => Promise<void>
}

const serverFile = fileURLToPath(new URL('./feed-server.ts', import.meta.url))
const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Starts the feed server in its own process, so it never shares an event loop with the load. */
export async function startUpstream (options: UpstreamOptions = {}): Promise<RunningUpstream> {
  const child = fork(serverFile, serverArguments(options), {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  trackChild(child)

  const ready = await waitForReady(child, options.startTimeoutMs ?? 10_000)
    .catch(async (error: unknown) => { await stopChild(child); throw error })
  // The channel stays open so the server notices when we go away; it must
  // not keep this process alive by itself.
  child.channel?.unref()

  return {
    url: `http://127.0.0.1:${ready.port}`,
    bytes: ready.bytes,
    pid: child.pid ?? 0,
    stop: async () => await stopChild(child)
  }
}

function serverArguments (options: UpstreamOptions): string[] {
  const args = ['--delay-ms', String(options.delayMs ?? 0)]
  if (options.withDifferences === true) args.push('--differences')
  if (options.differencesShare !== undefined) args.push('--differences-share', String(options.differencesShare))

  return args
}

async function waitForReady (child: ChildProcess, timeoutMs: number): Promise<FeedServerReady> {
  return await new Promise((resolve, reject) => {
    const late = new Error(`the upstream did not report its port within ${timeoutMs} ms`)
    const timer = setTimeout(() => finish(late), timeoutMs)
    const onExit = (code: number | null): void => {
      finish(new Error(`the upstream exited (${code}) before it served`))
    }
    function finish (outcome: FeedServerReady | Error): void {
      clearTimeout(timer)
      child.off('exit', onExit)
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome)
    }

    child.once('exit', onExit)
    child.once('message', (message) => finish(message as FeedServerReady))
  })
}
