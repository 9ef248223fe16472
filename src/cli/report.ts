import { nameRoutes, type Config } from '../config/schema.js'
import { formatRouteReport } from '../report/format-report.js'
import { buildRouteReport, type RouteReport } from '../report/route-report.js'
import { parseDuration } from '../config/duration.js'
import { findLatestPairs, retentionMs } from '../store/diff-aggregates.js'
import { createKeys, type Keys } from '../store/keys.js'
import { SR_ERR_REDIS_UNAVAILABLE, SR_ERR_UNKNOWN_ROUTE } from '../errors.js'
import { connectRedis, waitUntilReady, type RedisClient } from '../store/redis-connection.js'
import { redactUrl } from '../store/rollout-watcher.js'
import { describeAge } from './format-status.js'

export interface ReportOptions {
  route?: string | undefined
  /** The configuration file as a message names it: its path, and how it was chosen. */
  configFile: string
  sinceMs: number
  sinceLabel: string
  json: boolean
}

/** `shadowramp report`: each route's divergence over the last while, for people or for scripts. */
export async function printReport (config: Readonly<Config>, redisUrl: string, options: ReportOptions, write: (text: string) => void): Promise<RouteReport[]> {
  const routes = options.route === undefined ? config.routes.map((route) => route.name) : [options.route]
  if (options.route !== undefined && !config.routes.some((route) => route.name === options.route)) {
    throw new SR_ERR_UNKNOWN_ROUTE(options.route, `: ${options.configFile} has ${nameRoutes(config.routes)}`)
  }

  const redis = connectRedis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2_000 })
  // An unreachable Redis is said once, below, rather than by ioredis on every retry.
  redis.on('error', () => {})
  try {
    if (!await waitUntilReady(redis, 3_000)) throw new SR_ERR_REDIS_UNAVAILABLE(`cannot reach Redis at ${redactUrl(redisUrl)}`)
    const to = Date.now()
    const from = to - options.sinceMs
    const keys = createKeys(config.redis.namespace)
    const reports = await Promise.all(routes.map(async (route) => await buildRouteReport(redis, keys, route, from, to)))
    if (options.json) { write(JSON.stringify(reports, null, 2)); return reports }

    const text = reports.map((report) => formatRouteReport(report, options.sinceLabel)).join('\n\n')
    const probes: EmptyReportProbes = {
      othersHavePairs: async () => {
        const others = config.routes.map((route) => route.name).filter((route) => route !== options.route)
        const counts = await Promise.all(others.map(async (route) => (await buildRouteReport(redis, keys, route, from, to)).pairs))
        return counts.some((pairs) => pairs > 0)
      },
      findEarlierPairs: async (names) => await lookBackForPairs(redis, keys, names, from, to)
    }
    const hint = await emptyReportHint(config, redisUrl, { ...options, to }, reports, probes)
    write(hint === undefined ? text : `${text}\n\n${hint}`)
    return reports
  } finally {
    redis.disconnect()
  }
}

/** The latest pairs found before a report's window: their route, and the start of their bucket. */
interface EarlierPairs {
  route: string
  at: number
}

/** What the hint for an empty report may look up, each only when it gets that far. */
interface EmptyReportProbes {
  /** Whether routes other than the one asked for have pairs in the window. */
  othersHavePairs: () => Promise<boolean>
  /** The latest pairs of these routes before the window, if any are kept. */
  findEarlierPairs: (routes: readonly string[]) => Promise<EarlierPairs | undefined>
}

/** The report's window as its hint describes it: `to` is when it ends. */
type ReportWindow = Pick<ReportOptions, 'route' | 'sinceLabel'> & { to: number }

/**
 * How far back an empty report looks for earlier pairs: as long as the
 * buckets are kept. Nothing older is left to find, and a shorter bound
 * would send people to their configuration over pairs that a wider
 * --since still shows.
 */
const lookBackMs = retentionMs

/**
 * The latest pairs of any of these routes between the retention and the
 * window's start. One read per route, made only for an empty report.
 */
async function lookBackForPairs (
  redis: RedisClient, keys: Keys, routes: readonly string[], from: number, to: number
): Promise<EarlierPairs | undefined> {
  const found = await Promise.all(routes.map(async (route) => {
    return { route, at: await findLatestPairs(redis, keys, route, to - lookBackMs, from) }
  }))
  const earlier = found.filter((each): each is EarlierPairs => each.at !== undefined)

  return earlier.sort((a, b) => b.at - a.at)[0]
}

/**
 * Why a report may be empty. The window may just be too narrow: pairs
 * kept from earlier say so, and that the rest is in order. Otherwise, for
 * one route: it may have no mirror, which the configuration tells; or
 * other routes may have pairs, which rules out the wrong Redis or
 * namespace. Nothing anywhere: the usual reason is another Redis or
 * namespace than the gateway's, or no diff worker.
 */
async function emptyReportHint (
  config: Readonly<Config>, redisUrl: string, window: ReportWindow, reports: readonly RouteReport[], probes: EmptyReportProbes
): Promise<string | undefined> {
  if (reports.some((report) => report.pairs > 0)) return undefined

  const place = `namespace ${config.redis.namespace} at ${redactUrl(redisUrl)}`
  if (window.route === undefined) return await emptyNamespaceHint(config, place, window, probes)

  return await emptyRouteHint(config, place, { ...window, route: window.route }, probes)
}

const checkConfiguration = 'check that this configuration names its redis.url and redis.namespace, and that a diff worker runs'

async function emptyNamespaceHint (
  config: Readonly<Config>, place: string, window: ReportWindow, probes: EmptyReportProbes
): Promise<string> {
  const earlier = await probes.findEarlierPairs(config.routes.map((route) => route.name))
  if (earlier !== undefined) {
    const { ago, since } = describeEarlierPairs(earlier, window.to)
    return `no pairs in the last ${window.sinceLabel}; the latest, for ${earlier.route}, were captured ${ago}: ` +
      `widen the window, e.g. --since ${since}`
  }

  return `no pairs at all in ${place}: if the gateway mirrors, ${checkConfiguration}`
}

async function emptyRouteHint (
  config: Readonly<Config>, place: string, window: ReportWindow & { route: string }, probes: EmptyReportProbes
): Promise<string> {
  const { route } = window
  const mirrored = config.routes.some((each) => each.name === route && each.mirror !== undefined)
  if (!mirrored) return `no pairs for ${route}: it has no mirror in this configuration, so no gateway compares its answers`

  const earlier = await probes.findEarlierPairs([route])
  if (earlier !== undefined) {
    const { ago, since } = describeEarlierPairs(earlier, window.to)
    return `no pairs for ${route} in the last ${window.sinceLabel}; the latest were captured ${ago}: ` +
      `widen the window, e.g. --since ${since}`
  }

  const checkSampling = `check that requests reach ${route} and are sampled (mirror.sampleRate, mirror.methods) on the gateways`
  if (await probes.othersHavePairs()) return `no pairs for ${route}, while other routes in ${place} have some: ${checkSampling}`

  // Other routes' pairs from earlier still rule out the wrong Redis or namespace.
  const others = config.routes.map((each) => each.name).filter((each) => each !== route)
  const othersEarlier = await probes.findEarlierPairs(others)
  if (othersEarlier !== undefined) {
    const { ago } = describeEarlierPairs(othersEarlier, window.to)
    return `no pairs for ${route}, while other routes in ${place} had some until ${ago}: ${checkSampling}`
  }

  return `no pairs for ${route} in ${place}, nor for any other route: if a gateway mirrors it, ${checkConfiguration}`
}

/** Widths of --since a person would type, narrowest first; the widest covers the look-back. */
const roundWindows = ['1m', '5m', '15m', '1h', '6h', '1d']

/**
 * How long ago earlier pairs were captured, and the narrowest round
 * --since that shows them. Both count from the start of their bucket, so
 * a window that wide is sure to reach them.
 */
function describeEarlierPairs (earlier: EarlierPairs, to: number): { ago: string, since: string } {
  const ageMs = to - earlier.at
  const since = roundWindows.find((label) => (parseDuration(label) ?? 0) >= ageMs) ?? '1d'

  return { ago: describeAge(new Date(earlier.at).toISOString(), to), since }
}
