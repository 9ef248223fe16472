import type { FastifyInstance } from 'fastify'
import type { RedisClient } from '../store/redis-connection.js'
import { bucketMs } from '../store/diff-aggregates.js'
import type { Keys } from '../store/keys.js'
import { historyLength, readHistory, readRolloutState, type HistoryEntry } from '../store/rollout-store.js'
import { readTimeseries, type TimePoint } from '../store/timeseries.js'
import type { ApiContext } from './api-context.js'
import { commonErrors, routeParams, timeseriesBody, timeseriesQuery } from './api-schemas.js'
import { PercentageTimeline, type PercentageChange } from './percentage-timeline.js'
import { checkSince } from './rollout-routes.js'

type TimeseriesRequest = { Params: { route: string }, Querystring: { since: string } }

/** A route's figures over time, as the UI's charts draw them. */
export interface RouteTimeseries {
  route: string
  from: number
  to: number
  pointMs: number
  points: Array<TimePoint & { percentage: number }>
  changes: PercentageChange[]
}

/**
 * History entries read at first. Most ranges need only the latest few;
 * the whole bounded history is read only when all of these fall inside
 * the range, since the percentage before the range is what the oldest
 * entry started from.
 */
const firstHistoryRead = 100

const schema = {
  summary: 'A route\'s percentage, divergence, error rates and p99 latency over time',
  tags: ['rollout'],
  security: [{ bearerAuth: [] }],
  params: routeParams,
  querystring: timeseriesQuery,
  response: { 200: timeseriesBody, ...commonErrors }
}

export async function timeseriesRoutes (app: FastifyInstance, context: ApiContext): Promise<void> {
  app.get<TimeseriesRequest>('/routes/:route/timeseries', { schema }, async (request) => {
    const route = context.catalog.require(request.params.route)
    const to = context.now()
    const from = to - checkSince(request.query.since)

    const [state, points, history] = await Promise.all([
      readRolloutState(context.redis, context.keys, route.name),
      readTimeseries(context.redis, context.keys, route.name, from, to),
      readHistorySince(context.redis, context.keys, route.name, from)
    ])
    // As the route view shows it while Redis holds no state for the route.
    const current = state?.percentage ?? context.served(route.name) ?? route.percentage
    const timeline = new PercentageTimeline(history, current, to)

    return describeTimeseries(route.name, from, to, points, timeline)
  })
}

/** Points with the percentage in force at the end of each; the last ends now. */
export function describeTimeseries (route: string, from: number, to: number, points: readonly TimePoint[], timeline: PercentageTimeline): RouteTimeseries {
  const pointMs = pointWidth(points)
  const withPercentage = points.map((point) => {
    const end = point.at + pointMs
    return { ...point, percentage: timeline.at(end >= to ? to : end - 1) }
  })

  return { route, from, to, pointMs, points: withPercentage, changes: timeline.between(from, to) }
}

function pointWidth (points: readonly TimePoint[]): number {
  const [first, second] = points
  if (first === undefined || second === undefined) return bucketMs

  return second.at - first.at
}

async function readHistorySince (redis: RedisClient, keys: Keys, route: string, from: number): Promise<HistoryEntry[]> {
  const latest = await readHistory(redis, keys, route, firstHistoryRead)
  const oldest = latest.at(-1)
  if (latest.length < firstHistoryRead || oldest === undefined || oldest.at < from) return latest

  return await readHistory(redis, keys, route, historyLength)
}
