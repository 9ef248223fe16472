import { Redis } from 'ioredis'
import type { Config } from '../config/schema.js'
import { formatRouteReport } from '../report/format-report.js'
import { buildRouteReport, type RouteReport } from '../report/route-report.js'
import { createKeys } from '../store/keys.js'
import { SR_ERR_UNKNOWN_ROUTE } from '../errors.js'

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

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true })
  try {
    await redis.connect()
    const to = Date.now()
    const keys = createKeys(config.redis.namespace)
    const reports = await Promise.all(routes.map(async (route) => await buildRouteReport(redis, keys, route, to - options.sinceMs, to)))
    write(options.json ? JSON.stringify(reports, null, 2) : reports.map((report) => formatRouteReport(report, options.sinceLabel)).join('\n\n'))
    return reports
  } finally {
    redis.disconnect()
  }
}
