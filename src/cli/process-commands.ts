import { parseArgs } from 'node:util'
import { parseDuration } from '../config/duration.js'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { retentionMs } from '../store/diff-aggregates.js'
import { resolveRedis } from '../store/redis-bootstrap.js'
import { createLogger } from '../telemetry/logger.js'
import { printReport } from './report.js'
import { startShadowramp, type RunningShadowramp } from './serve.js'
import { startWorkerProcess } from './worker.js'

/*
 * The commands that run shadowramp's own processes, or read its Redis
 * directly: serve, worker and report.
 */

const configOption = { config: { type: 'string', short: 'c' } } as const

const defaultConfigFile = 'config/shadowramp.yaml'

function readConfig (file: string | undefined): Readonly<Config> {
  return loadConfig(file ?? process.env.SHADOWRAMP_CONFIG ?? defaultConfigFile)
}

/**
 * The file read, as a message names it. Without --config it is chosen
 * for the person, who may think it is another (the demo's): say how.
 */
function describeConfigFile (file: string | undefined): string {
  if (file !== undefined) return file
  if (process.env.SHADOWRAMP_CONFIG !== undefined) return `${process.env.SHADOWRAMP_CONFIG} (from SHADOWRAMP_CONFIG)`

  return `${defaultConfigFile} (the default; --config names another)`
}

export async function serveCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: configOption })
  const config = readConfig(values.config)
  const logger = createLogger({ level: config.log.level })
  const running = await startShadowramp({ config, logger, redisUrl: process.env.REDIS_URL })
  logger.info({ gateway: running.gatewayUrl, admin: running.adminUrl }, 'shadowramp serving')
  await untilSignal(running)

  return 0
}

export async function workerCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: configOption })
  const config = readConfig(values.config)
  const logger = createLogger({ level: config.log.level })
  const redis = await resolveRedis(process.env.REDIS_URL ?? config.redis.url, logger)
  const running = await startWorkerProcess(config, redis.url, logger)
  logger.info({ metrics: running.metricsUrl }, 'diff worker running')
  await untilSignal({ close: async () => { await running.close(); redis.privateServer?.kill() } })
  logger.info('diff worker stopped')

  return 0
}

export async function reportCommand (args: string[]): Promise<number> {
  // Node's parser refuses "--since -5m" as ambiguous; it is a duration out of range.
  const sinceAt = args.indexOf('--since')
  const negativeSince = sinceAt === -1 ? undefined : args[sinceAt + 1]
  if (negativeSince?.startsWith('-') === true) return refuseSince(negativeSince)

  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...configOption, since: { type: 'string', default: '10m' }, json: { type: 'boolean', default: false } }
  })
  const sinceMs = parseDuration(values.since)
  // Pairs are counted for a day: a wider window shows nothing more, and its
  // buckets, read one by one, would only cost time and memory.
  if (sinceMs === undefined || sinceMs <= 0 || sinceMs > retentionMs) return refuseSince(values.since)

  const config = readConfig(values.config)
  const redisUrl = process.env.REDIS_URL ?? config.redis.url
  const options = { route: positionals[0], configFile: describeConfigFile(values.config), sinceMs, sinceLabel: values.since, json: values.json }
  await printReport(config, redisUrl, options, (text) => process.stdout.write(`${text}\n`))

  return 0
}

function refuseSince (since: string): number {
  process.stderr.write('shadowramp: --since wants a duration above 0 and at most 1d (pairs are counted for a day), ' +
    `such as 30s, 10m or 1h, got "${since}"\n`)
  return 2
}

/** Resolves after SIGINT or SIGTERM has drained in-flight requests. */
async function untilSignal (running: Pick<RunningShadowramp, 'close'>): Promise<void> {
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

