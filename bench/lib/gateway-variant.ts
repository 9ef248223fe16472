/**
 * A gateway for benchmarks: `shadowramp serve` with only the pair sink
 * replaced, so a benchmark can measure the batched queue against other
 * designs with everything else the same. Started by startGateway as
 *
 *   node --import tsx bench/lib/gateway-variant.ts --config <file> --pair-sink discard|naive
 *
 * discard: pairs are dropped once captured (the cost of mirroring alone);
 * naive: each pair is its own BullMQ job with base64 bodies (NaivePairSink).
 *
 * The gateway itself is loaded from dist/, the build `shadowramp serve`
 * runs, so both run the same compiled code; only this file and the sink go
 * through tsx.
 */
import { parseArgs } from 'node:util'
import type { Pair } from '../../src/shadow/pair.js'
import type { PairSink } from '../../src/shadow/shadow-mirror.js'
import { NaivePairSink } from './naive-pair-sink.js'

type ServeModule = typeof import('../../src/cli/serve.js')
type LoadModule = typeof import('../../src/config/load.js')
type LoggerModule = typeof import('../../src/telemetry/logger.js')
type Logger = ReturnType<LoggerModule['createLogger']>

export type VariantPairSink = 'discard' | 'naive'

/** How long closing may take before the process exits anyway. */
const closeTimeoutMs = 4_000

const distUrl = new URL('../../dist/', import.meta.url)
const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    'pair-sink': { type: 'string' }
  }
})

await serveVariant(values.config, values['pair-sink'])

async function serveVariant (configFile: string | undefined, sinkName: string | undefined): Promise<void> {
  if (configFile === undefined) throw new Error('--config <file> is required')
  if (sinkName !== 'discard' && sinkName !== 'naive') {
    throw new Error(`--pair-sink expects discard or naive, found ${sinkName}`)
  }

  const { startShadowramp } = await importDist<ServeModule>('cli/serve.js')
  const { loadConfig } = await importDist<LoadModule>('config/load.js')
  const { createLogger } = await importDist<LoggerModule>('telemetry/logger.js')
  const config = loadConfig(configFile)
  const logger = createLogger({ level: config.log.level })
  const redisUrl = process.env.REDIS_URL ?? config.redis.url
  const sink = createSink(sinkName, redisUrl, config.redis.namespace, logger)

  const running = await startShadowramp({
    config, logger, redisUrl: process.env.REDIS_URL, createPairSink: () => sink.sink
  })
  const listening = { gateway: running.gatewayUrl, admin: running.adminUrl, pairSink: sinkName }
  logger.info(listening, 'shadowramp variant serving')
  stopOnSignal(async () => {
    await running.close()
    await sink.close()
  })
}

async function importDist<T> (file: string): Promise<T> {
  return await import(new URL(file, distUrl).href) as T
}

interface VariantSink {
  sink: PairSink
  close: () => Promise<void>
}

function createSink (name: VariantPairSink, redisUrl: string, namespace: string, logger: Logger): VariantSink {
  if (name === 'discard') return { sink: { add: (_pair: Pair) => {} }, close: async () => {} }

  const naive = new NaivePairSink({
    redisUrl,
    // The gateway's own namespace, beside its real queue: dropping the
    // namespace removes these jobs as well.
    prefix: `{${namespace}}`,
    queueName: 'naive-pairs',
    onTrouble: (message) => logger.warn(message)
  })

  return { sink: naive, close: async () => await naive.close() }
}

/** SIGTERM or SIGINT: close as `serve` does, then exit (which also writes a --cpu-prof profile). */
function stopOnSignal (close: () => Promise<void>): void {
  const stop = (): void => {
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
    setTimeout(() => process.exit(1), closeTimeoutMs).unref()
    void close().finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
