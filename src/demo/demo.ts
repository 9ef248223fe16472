import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectRedis } from '../store/redis-connection.js'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
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
    printBanner(running, backends, config)
    await untilInterrupted()
  } finally {
    await running?.close()
    await backends.stop()
  }

  return 0
}

/** Each demo run begins at the configured percentages, not where the last one ended. */
async function startFresh (redisUrl: string, namespace: string, logger: Logger): Promise<void> {
  const redis = connectRedis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true })
  try {
    const deleted = await dropNamespace(redis, namespace)
    if (deleted > 0) logger.info({ namespace, deleted }, 'cleared the previous demo run\'s state')
  } finally {
    redis.disconnect()
  }
}

function printBanner (running: RunningShadowramp, backends: DemoBackends, config: Readonly<Config>): void {
  const gateway = running.gatewayUrl
  const admin = running.adminUrl
  const operator = demoToken(config, 'operator', 'SHADOWRAMP_OPERATOR_TOKEN')
  const reader = demoToken(config, 'read', 'SHADOWRAMP_READ_TOKEN')
  const lines = [
    '',
    'shadowramp demo is running',
    `  gateway    ${gateway}          live traffic, split between the two backends`,
    `  admin      ${admin}          /readyz, /metrics, the admin API under /api`,
    `  web UI     ${admin}/ui/       paste a token below (operator to change, read to look)`,
    `  baseline   ${backends.baselineUrl}   json-server 0.17.4`,
    `  candidate  ${backends.candidateUrl}   json-server 1.0.0-beta.3`,
    `  redis      ${running.redisUrl}   namespace ${config.redis.namespace} (emptied at start)`,
    '',
    'try:',
    `  curl -i ${gateway}/products/1 -H 'x-user-id: alice'              # see x-served-by`,
    `  curl -i ${gateway}/orders/1001 -H 'x-shadowramp-backend: candidate'  # force a backend`,
    `  curl ${admin}/readyz`,
    '',
    'tokens for the web UI, the admin API and the CLI:',
    `  operator   ${operator}`,
    `  read       ${reader}`,
    `  SHADOWRAMP_TOKEN=${reader} node dist/cli/main.js status --admin ${admin}`,
    `  SHADOWRAMP_TOKEN=${operator} node dist/cli/main.js set orders 0 --reason 'ids turn into strings' --admin ${admin}`,
    `  curl -H 'authorization: Bearer ${reader}' ${admin}/api/routes`,
    '',
    'then, in another terminal:  npm run demo:traffic',
    'stop with Ctrl-C',
    ''
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

/**
 * A token of the role for the banner: the demo default is printed so a
 * newcomer can paste it; one set in the environment is a secret, and is
 * named rather than shown.
 */
function demoToken (config: Readonly<Config>, role: 'read' | 'operator', variable: string): string {
  const token = config.admin.tokens.find((candidate) => candidate.role === role)
  if (token === undefined) return '(none configured)'

  const fromEnvironment = (process.env[variable] ?? '') !== ''
  return fromEnvironment ? `"$${variable}"` : token.token
}

async function untilInterrupted (): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}
