import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { loadConfig } from '../config/load.js'
import { startShadowramp, type RunningShadowramp } from '../cli/serve.js'
import { dropNamespace } from '../store/namespace.js'
import { resolveRedis } from '../store/redis-bootstrap.js'
import { createLogger, type Logger } from '../telemetry/logger.js'
import { startDemoBackends, type DemoBackends } from './backends.js'

/** The repository root: the demo's configuration paths are relative to it. */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * `npm start`: the two json-server generations, shadowramp in front of
 * them, and the addresses to try. Runs until Ctrl-C.
 */
export async function runDemo (_args: string[]): Promise<number> {
  process.chdir(projectRoot)
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' })
  const backends = await startDemoBackends(join(projectRoot, 'config/demo-db.json'))
  let running: RunningShadowramp | undefined

  try {
    process.env.DEMO_BASELINE_URL = backends.baselineUrl
    process.env.DEMO_CANDIDATE_URL = backends.candidateUrl
    const config = loadConfig(join(projectRoot, 'config/demo.yaml'))
    const redis = await resolveRedis(process.env.REDIS_URL ?? config.redis.url, logger)
    await startFresh(redis.url, config.redis.namespace, logger)
    running = await startShadowramp({ config, logger, redisUrl: redis.url, logRequests: false })
    printBanner(running, backends)
    await untilInterrupted()
  } finally {
    await running?.close()
    await backends.stop()
  }

  return 0
}

/** Each demo run begins at the configured percentages, not where the last one ended. */
async function startFresh (redisUrl: string, namespace: string, logger: Logger): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  try {
    const deleted = await dropNamespace(redis, namespace)
    if (deleted > 0) logger.info({ namespace, deleted }, 'cleared the previous demo run\'s state')
  } finally {
    redis.disconnect()
  }
}

function printBanner (running: RunningShadowramp, backends: DemoBackends): void {
  const gateway = running.gatewayUrl
  const lines = [
    '',
    'shadowramp demo is running',
    `  gateway    ${gateway}          live traffic, split between the two backends`,
    `  admin      ${running.adminUrl}          /readyz, /metrics`,
    `  baseline   ${backends.baselineUrl}   json-server 0.17.4`,
    `  candidate  ${backends.candidateUrl}   json-server 1.0.0-beta.3`,
    `  redis      ${running.redisUrl}`,
    '',
    'try:',
    `  curl -i ${gateway}/products/1 -H 'x-user-id: alice'              # see x-served-by`,
    `  curl -i ${gateway}/orders/1001 -H 'x-shadowramp-backend: candidate'  # force a backend`,
    `  curl ${running.adminUrl}/readyz`,
    '',
    'then, in another terminal:  npm run demo:traffic',
    'stop with Ctrl-C',
    ''
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

async function untilInterrupted (): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}
