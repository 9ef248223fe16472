#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.js'
import { ShadowrampError } from '../errors.js'
import { createLogger } from '../telemetry/logger.js'
import type { Config } from '../config/schema.js'
import { resolveRedis } from '../store/redis-bootstrap.js'
import { parseDuration } from './duration.js'
import { printReport } from './report.js'
import { startShadowramp, type RunningShadowramp } from './serve.js'
import { startWorkerProcess } from './worker.js'

const usage = `usage: shadowramp <command> [options]

commands:
  serve   [--config <file>]          run the gateway and the admin listener
  worker  [--config <file>]          run a diff worker
  report  [route] [--since 10m] [--json] [--config <file>]
                                     where each route's candidate diverges
  demo                               run the built-in demo (two json-server generations)

--config defaults to SHADOWRAMP_CONFIG, then config/shadowramp.yaml.
environment: REDIS_URL, SHADOWRAMP_CONFIG, SHADOWRAMP_<ROUTE>_BASELINE_URL, SHADOWRAMP_<ROUTE>_CANDIDATE_URL`

const configOption = { config: { type: 'string', short: 'c' } } as const

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': return await serveCommand(rest)
    case 'worker': return await workerCommand(rest)
    case 'report': return await reportCommand(rest)
    case 'demo': {
      const { runDemo } = await import('../demo/demo.js')
      return await runDemo(rest)
    }
    default:
      process.stderr.write(`${usage}\n`)
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2
  }
}

function readConfig (file: string | undefined): Readonly<Config> {
  return loadConfig(file ?? process.env.SHADOWRAMP_CONFIG ?? 'config/shadowramp.yaml')
}

async function serveCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: configOption })
  const config = readConfig(values.config)
  const logger = createLogger({ level: config.log.level })
  const running = await startShadowramp({ config, logger, redisUrl: process.env.REDIS_URL })
  logger.info({ gateway: running.gatewayUrl, admin: running.adminUrl }, 'shadowramp serving')
  await untilSignal(running)

  return 0
}

async function workerCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: configOption })
  const config = readConfig(values.config)
  const logger = createLogger({ level: config.log.level })
  const redis = await resolveRedis(process.env.REDIS_URL ?? config.redis.url, logger)
  const running = await startWorkerProcess(config, redis.url, logger)
  logger.info({ metrics: running.metricsUrl }, 'diff worker running')
  await untilSignal({ close: async () => { await running.close(); redis.privateServer?.kill() } })

  return 0
}

async function reportCommand (args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...configOption, since: { type: 'string', default: '10m' }, json: { type: 'boolean', default: false } }
  })
  const sinceMs = parseDuration(values.since)
  if (sinceMs === undefined) {
    process.stderr.write(`shadowramp: --since wants a duration such as 30s, 10m, 1h or 2d, got ${values.since}\n`)
    return 2
  }

  const config = readConfig(values.config)
  const redisUrl = process.env.REDIS_URL ?? config.redis.url
  await printReport(config, redisUrl, { route: positionals[0], sinceMs, sinceLabel: values.since, json: values.json }, (text) => process.stdout.write(`${text}\n`))

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
