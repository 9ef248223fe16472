import { Writable } from 'node:stream'
import { configSchema, type Config } from '../../src/config/schema.js'
import { startShadowramp, type RunningShadowramp } from '../../src/cli/serve.js'
import { createLogger, type Logger } from '../../src/telemetry/logger.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from './redis.js'

export type ConfigInput = Record<string, unknown> & { routes: Array<Record<string, unknown>> }

/** A full configuration with defaults applied, listening on free ports. */
export function testConfig (input: ConfigInput, namespace = uniqueNamespace()): Config {
  return configSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    log: { level: 'warn' },
    ...input,
    redis: { namespace, ...(input.redis as object | undefined) },
    shadow: { ...unshedShadow, ...(input.shadow as object | undefined) }
  })
}

/**
 * Tests count pairs exactly, and a test process's event loop is often busy
 * (start-up, load generators in the same process): mirroring never stands
 * aside for a busy loop unless a test asks for it. That guard has its own
 * tests.
 */
export const unshedShadow = { maxLoopBusy: 1 }

/** A logger that keeps its lines in memory, for tests that read them. */
export function memoryLogger (level = 'info'): { logger: Logger, lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, callback) { chunks.push(chunk.toString()); callback() }
  })
  const logger = createLogger({ level, destination })
  const lines = (): Array<Record<string, unknown>> => chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>)

  return { logger, lines }
}

/** Starts shadowramp in this process against the test Redis. */
export async function startTestShadowramp (input: ConfigInput, options: { redisUrl?: string, logger?: Logger } = {}): Promise<RunningShadowramp & { config: Config }> {
  const config = testConfig(input)
  const redisUrl = options.redisUrl ?? await testRedisUrl()
  const logger = options.logger ?? createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) })
  // Access lines only where a test's configuration asks for them.
  const logRequests = (input.log as { requests?: boolean } | undefined)?.requests === true
  const running = await startShadowramp({ config, logger, redisUrl, logRequests })
  // A namespace made up here belongs to this test alone: closing leaves
  // nothing of it in the shared Redis, named or not (a private Redis goes
  // with its server, which may be stopped by then).
  const sharedRedis = options.redisUrl === undefined || options.redisUrl === await testRedisUrl()
  const ownsNamespace = sharedRedis && (input.redis as { namespace?: string } | undefined)?.namespace === undefined
  const close = async (): Promise<void> => {
    await running.close()
    if (ownsNamespace) await dropNamespace(redisUrl, config.redis.namespace)
  }

  return { ...running, close, config }
}
