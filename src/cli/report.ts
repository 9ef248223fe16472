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
  try {
    if (!await waitUntilReady(redis, 3_000)) throw new SR_ERR_REDIS_UNAVAILABLE(`cannot reach Redis at ${redactUrl(redisUrl)}`)
    const to = Date.now()
    const keys = createKeys(config.redis.namespace)
    const reports = await Promise.all(routes.map(async (route) => await buildRouteReport(redis, keys, route, to - options.sinceMs, to)))
    write(options.json ? JSON.stringify(reports, null, 2) : reports.map((report) => formatRouteReport(report, options.sinceLabel)).join('\n\n'))
    return reports
  } finally {
    redis.disconnect()
  }
}
