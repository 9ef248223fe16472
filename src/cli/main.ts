#!/usr/bin/env -S node --initial-old-space-size=128
// The option gives V8 a first old-generation budget of 128 MB. Bodies held as
// Buffers live outside the heap but count against that budget, and with the
// default one a gateway mirroring and queueing 20 KB answers at 1,000 req/s
// ran a full collection every ~150 ms, each a pause for the live requests.
// README, "Memory and garbage collection", has the figures.
import { ShadowrampError } from '../errors.js'
import { runRolloutCommand } from './rollout-commands.js'

const usage = `usage: shadowramp <command> [options]

commands:
  serve   [--config <file>]          run the gateway and the admin listener
  worker  [--config <file>]          run a diff worker
  report  [route] [--since 10m] [--json] [--config <file>]
                                     where each route's candidate diverges
  demo                               run the built-in demo (two json-server generations)

rollout commands (through the admin API of a running shadowramp serve):
  status   [route] [--json]          percentage, status, step, what the controller waits for, divergence
  set      <route> <percentage> [--reason <text>]
                                     set the percentage by hand (pauses a route's plan)
  pause    <route> [--reason <text>] stop promotions; rollbacks still fire
  resume   <route> [--reason <text>] let the plan continue
  promote  <route> [--reason <text>] move to the plan's next step now
  rollback <route> [--reason <text>] roll back now
  retry    <route> [--reason <text>] start the plan again after a rollback
  history  <route> [--limit 50] [--json]
                                     who changed what, and why, newest first
  each takes --admin <url> (default SHADOWRAMP_ADMIN_URL, then http://127.0.0.1:9090)
  and sends the token in SHADOWRAMP_TOKEN (a read token for status and history).

--config defaults to SHADOWRAMP_CONFIG, then config/shadowramp.yaml.
environment: REDIS_URL, SHADOWRAMP_CONFIG, SHADOWRAMP_<ROUTE>_BASELINE_URL, SHADOWRAMP_<ROUTE>_CANDIDATE_URL,
  SHADOWRAMP_ADMIN_URL, SHADOWRAMP_TOKEN`

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (rest.includes('--help') || rest.includes('-h')) return await main(['--help'])

  switch (command) {
    // Loaded only when asked for: the rollout verbs start in a fraction of the time.
    case 'serve': return exitAfterShutdown(await (await import('./process-commands.js')).serveCommand(rest))
    case 'worker': return exitAfterShutdown(await (await import('./process-commands.js')).workerCommand(rest))
    case 'report': return await (await import('./process-commands.js')).reportCommand(rest)
    case 'demo': {
      const { runDemo } = await import('../demo/demo.js')
      return await runDemo(rest)
    }
    case 'status':
    case 'set':
    case 'pause':
    case 'resume':
    case 'promote':
    case 'rollback':
    case 'retry':
    case 'history':
      return await runRolloutCommand(command, rest)
    case 'help':
    case '--help':
    case '-h':
      // Asked for, the usage is the answer: on stdout, so it pages and greps.
      process.stdout.write(`${usage}\n`)
      return 0
    default: {
      // A mistyped command is named first: the usage alone would not say what was wrong.
      const unknown = command === undefined ? '' : `shadowramp: unknown command ${command}\n\n`
      process.stderr.write(`${unknown}${usage}\n`)
      return 2
    }
  }
}

/**
 * A server that has drained and closed everything it opened has nothing
 * left to do; it exits even if a library still holds a handle (the Redis
 * Cluster client can reconnect a node connection BullMQ made while
 * closing it).
 */
function exitAfterShutdown (code: number): number {
  setTimeout(() => process.exit(code), 100).unref()

  return code
}

/** Prints a failure for people: coded errors as their message, one problem per line. */
export function reportFatal (error: unknown): void {
  const message = error instanceof ShadowrampError || isUsageMistake(error)
    ? (error as Error).message
    : (error as Error)?.stack ?? String(error)
  process.stderr.write(`shadowramp: ${message}\n`)
  if (isUsageMistake(error)) process.stderr.write('see shadowramp --help\n')
}

/** An option the command does not take, or one without its value: node's parseArgs says which. */
function isUsageMistake (error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: unknown) => {
  reportFatal(error)
  const configInvalid = error instanceof ShadowrampError && error.code === 'SR_ERR_CONFIG_INVALID'
  process.exitCode = configInvalid || isUsageMistake(error) ? 2 : 1
})
