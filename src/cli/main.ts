#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.js'
import { ShadowrampError } from '../errors.js'
import { createLogger } from '../telemetry/logger.js'
import { startShadowramp, type RunningShadowramp } from './serve.js'

const usage = `usage: shadowramp <command> [options]

commands:
  serve   --config <file>   run the gateway and the admin listener
  demo                      run the built-in demo (two json-server generations)

environment: REDIS_URL, SHADOWRAMP_CONFIG, SHADOWRAMP_<ROUTE>_BASELINE_URL, SHADOWRAMP_<ROUTE>_CANDIDATE_URL`

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': return await serveCommand(rest)
    case 'demo': {
      const { runDemo } = await import('../demo/demo.js')
      return await runDemo(rest)
    }
    default:
      process.stderr.write(`${usage}\n`)
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2
  }
}

async function serveCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } })
  const file = values.config ?? process.env.SHADOWRAMP_CONFIG ?? 'config/shadowramp.yaml'
  const config = loadConfig(file)
  const logger = createLogger({ level: config.log.level })
  const running = await startShadowramp({ config, logger, redisUrl: process.env.REDIS_URL })
  logger.info({ gateway: running.gatewayUrl, admin: running.adminUrl }, 'shadowramp serving')
  await untilSignal(running)

  return 0
}

/** Resolves after SIGINT or SIGTERM has drained in-flight requests. */
export async function untilSignal (running: Pick<RunningShadowramp, 'close'>): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void running.close().finally(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

/** Prints a failure for people: coded errors as their message, one problem per line. */
export function reportFatal (error: unknown): void {
  const message = error instanceof ShadowrampError ? error.message : (error as Error)?.stack ?? String(error)
  process.stderr.write(`shadowramp: ${message}\n`)
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: unknown) => {
  reportFatal(error)
  process.exitCode = error instanceof ShadowrampError && error.code === 'SR_ERR_CONFIG_INVALID' ? 2 : 1
})
