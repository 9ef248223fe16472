import type { Config } from '../config/schema.js'
import { formatRouteReport } from '../report/format-report.js'
import { buildRouteReport, type RouteReport } from '../report/route-report.js'
import { createKeys } from '../store/keys.js'
import { SR_ERR_REDIS_UNAVAILABLE, SR_ERR_UNKNOWN_ROUTE } from '../errors.js'
import { connectRedis, waitUntilReady } from '../store/redis-connection.js'
import { redactUrl } from '../store/rollout-watcher.js'

export interface ReportOptions {
  route?: string | undefined
  sinceMs: number
  sinceLabel: string
  json: boolean
}

/** `shadowramp report`: each route's divergence over the last while, for people or for scripts. */
export async function printReport (config: Readonly<Config>, redisUrl: string, options: ReportOptions, write: (text: string) => void): Promise<RouteReport[]> {
  const routes = options.route === undefined ? config.routes.map((route) => route.name) : [options.route]
  if (options.route !== undefined && !config.routes.some((route) => route.name === options.route)) {
    throw new SR_ERR_UNKNOWN_ROUTE(options.route)
  }

  const redis = connectRedis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2_000 })
  // An unreachable Redis is said once, below, rather than by ioredis on every retry.
  redis.on('error', () => {})
  try {
    if (!await waitUntilReady(redis, 3_000)) throw new SR_ERR_REDIS_UNAVAILABLE(`cannot reach Redis at ${redactUrl(redisUrl)}`)
    const to = Date.now()
    const keys = createKeys(config.redis.namespace)
    const reports = await Promise.all(routes.map(async (route) => await buildRouteReport(redis, keys, route, to - options.sinceMs, to)))
    if (options.json) { write(JSON.stringify(reports, null, 2)); return reports }

    const text = reports.map((report) => formatRouteReport(report, options.sinceLabel)).join('\n\n')
    const othersHavePairs = async (): Promise<boolean> => {
      const others = config.routes.map((route) => route.name).filter((route) => route !== options.route)
      const counts = await Promise.all(others.map(async (route) => (await buildRouteReport(redis, keys, route, to - options.sinceMs, to)).pairs))
      return counts.some((pairs) => pairs > 0)
    }
    const hint = await emptyReportHint(config, redisUrl, options.route, reports, othersHavePairs)
    write(hint === undefined ? text : `${text}\n\n${hint}`)
    return reports
  } finally {
    redis.disconnect()
  }
}

/**
 * Why a report may be empty. One route: it may have no mirror, which the
 * configuration tells; or other routes may have pairs, which rules out
 * the wrong Redis or namespace. Nothing anywhere: the usual reason is
 * another Redis or namespace than the gateway's, or no diff worker.
 */
async function emptyReportHint (
  config: Readonly<Config>, redisUrl: string, route: string | undefined, reports: readonly RouteReport[], othersHavePairs: () => Promise<boolean>
): Promise<string | undefined> {
  if (reports.some((report) => report.pairs > 0)) return undefined
  const place = `namespace ${config.redis.namespace} at ${redactUrl(redisUrl)}`
  const check = 'check that this configuration names its redis.url and redis.namespace, and that a diff worker runs'
  if (route === undefined) return `no pairs at all in ${place}: if the gateway mirrors, ${check}`

  const mirrored = config.routes.some((each) => each.name === route && each.mirror !== undefined)
  if (!mirrored) return `no pairs for ${route}: it has no mirror in this configuration, so no gateway compares its answers`
  if (await othersHavePairs()) {
    return `no pairs for ${route}, while other routes in ${place} have some: check that requests reach ${route} ` +
      'and are sampled (mirror.sampleRate, mirror.methods) on the gateways'
  }
  return `no pairs for ${route} in ${place}, nor for any other route: if a gateway mirrors it, ${check}`
}
