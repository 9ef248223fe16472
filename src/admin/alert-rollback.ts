import type { RouteConfig } from '../config/schema.js'
import { SR_ERR_STATE_UNAVAILABLE, ShadowrampError } from '../errors.js'
import { isCommandTimeout } from '../store/redis-connection.js'
import { applyTransition, planAlertRollback } from '../rollout/rollout-actions.js'
import { seedMissingState, type ApiContext } from './api-context.js'
import type { RouteCatalog } from './route-view.js'

/** One alert as Alertmanager's webhook (version 4) sends it; other fields are ignored. */
export interface AlertmanagerAlert {
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations?: Record<string, string>
  startsAt?: string
  fingerprint?: string
}

export interface AlertmanagerPayload {
  receiver?: string
  groupKey?: string
  alerts: AlertmanagerAlert[]
}

/** What a payload asks for: the firing alerts of each route, and what it named that does not exist. */
export interface AlertsByRoute {
  routes: Map<string, AlertmanagerAlert[]>
  unknown: string[]
  ignored: { resolved: number, withoutRoute: number }
}

/** A route's percentage before and after a rollback. */
export interface RouteMove {
  route: string
  from: number
  to: number
}

export interface RollbackOutcome {
  rolledBack: RouteMove[]
  alreadyRolledBack: string[]
  unknown: string[]
}

/** Label values that mean every configured route. */
const everyRoute = new Set(['*', 'all'])

/** Alerts kept in a history entry, and characters per annotation; arbitrary, to bound what Redis keeps. */
const alertsKept = 10
const annotationChars = 1_000

/** The label that names the route: `route`, or `shadowramp_route` where `route` means something else. */
export function routeLabel (labels: Record<string, string>): string | undefined {
  return labels.shadowramp_route ?? labels.route
}

/** Names a route set: every route for `*` or `all`, else the one named. */
export function resolveRoutes (catalog: RouteCatalog, name: string): string[] {
  return everyRoute.has(name) ? catalog.routes.map((route) => route.name) : [name]
}

/**
 * Groups the firing alerts of a payload by the route they name, so each
 * route is rolled back once per payload however many alerts name it.
 * Resolved alerts change nothing: a rollback stays until a person retries.
 */
export function groupAlertsByRoute (payload: AlertmanagerPayload, catalog: RouteCatalog): AlertsByRoute {
  const routes = new Map<string, AlertmanagerAlert[]>()
  const unknown = new Set<string>()
  const ignored = { resolved: 0, withoutRoute: 0 }

  for (const alert of payload.alerts) {
    if (alert.status !== 'firing') { ignored.resolved++; continue }
    const label = routeLabel(alert.labels)
    if (label === undefined || label === '') { ignored.withoutRoute++; continue }

    for (const name of resolveRoutes(catalog, label)) {
      if (!catalog.has(name)) { unknown.add(name); continue }
      const named = routes.get(name) ?? []
      named.push(alert)
      routes.set(name, named)
    }
  }

  return { routes, unknown: [...unknown], ignored }
}

/** The history reason of an alert rollback: the alert names, and the first summary. */
export function describeAlerts (alerts: readonly AlertmanagerAlert[]): string {
  const names = [...new Set(alerts.map((alert) => alert.labels.alertname ?? 'unnamed alert'))]
  const annotations = alerts[0]?.annotations ?? {}
  const summary = annotations.summary ?? annotations.description ?? annotations.message
  const text = `alert ${names.join(', ')} firing${summary === undefined ? '' : `: ${summary}`}`

  return text.length <= 500 ? text : `${text.slice(0, 499)}…`
}

/** The figures stored with the history entry: the alerts' labels and annotations, bounded. */
export function alertFigures (payload: AlertmanagerPayload, alerts: readonly AlertmanagerAlert[]): Record<string, unknown> {
  return {
    source: 'alertmanager',
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    alertCount: alerts.length,
    alerts: alerts.slice(0, alertsKept).map((alert) => ({
      labels: alert.labels,
      annotations: trimAnnotations(alert.annotations ?? {}),
      startsAt: alert.startsAt,
      fingerprint: alert.fingerprint
    }))
  }
}

function trimAnnotations (annotations: Record<string, string>): Record<string, string> {
  const trim = (value: string): string => value.length <= annotationChars ? value : `${value.slice(0, annotationChars)}…`

  return Object.fromEntries(Object.entries(annotations).map(([name, value]) => [name, trim(value)]))
}

export interface RollbackRequest {
  route: RouteConfig
  actor: string
  reason: string
  figures: unknown
}

/**
 * Rolls routes back at once, all in parallel, whatever each was doing
 * (ramping, paused, holding, complete). A route already rolled back to 0
 * is left alone. Any route that could not be written fails the whole
 * call with 503, so the sender retries; on the retry, routes already
 * rolled back to 0 are left as they are.
 *
 * A write that got no answer in time (Redis stopped just after the
 * admin API last heard from it) may still be applied when Redis wakes:
 * it cannot be called back once written to the socket. The retry then
 * finds the route rolled back, and leaves it at 0 or takes it from a
 * previous step to 0, as a repeated notification of a still-firing alert
 * does: never further, and never over a change made since, because each
 * write expects the version it was computed on.
 */
export async function rollBackRoutes (
  context: ApiContext, requests: readonly RollbackRequest[]
): Promise<Omit<RollbackOutcome, 'unknown'>> {
  const outcomes = await Promise.allSettled(requests.map(async (request) => await rollBackRoute(context, request)))
  const failed = outcomes.find((outcome) => outcome.status === 'rejected')
  if (failed !== undefined) throw asUnavailable(failed.reason)

  const rolledBack: RouteMove[] = []
  const alreadyRolledBack: string[] = []
  for (const outcome of outcomes) {
    const value = (outcome as PromiseFulfilledResult<RouteMove | string>).value
    if (typeof value === 'string') alreadyRolledBack.push(value)
    else rolledBack.push(value)
  }

  return { rolledBack, alreadyRolledBack }
}

/** The route's move, or its name when it was already rolled back. */
async function rollBackRoute (context: ApiContext, request: RollbackRequest): Promise<RouteMove | string> {
  const { route, actor, reason, figures } = request
  const now = context.now()
  let from = 0
  // A Redis that lost the route's state must not make the alert miss it.
  await seedMissingState(context, route)

  const written = await applyTransition(context.redis, context.keys, route.name, (state) => {
    from = state.percentage
    return planAlertRollback(state, route.plan, { actor, reason, alert: figures }, now)
  }, now)

  return written === undefined ? route.name : { route: route.name, from, to: written.percentage }
}

/** A sender should retry whatever stopped the rollback: contention and outages pass. */
function asUnavailable (error: unknown): ShadowrampError {
  if (isCommandTimeout(error)) {
    const late = 'redis is unreachable (no answer in time); the rollback may still be written when Redis answers'
    return new SR_ERR_STATE_UNAVAILABLE(`${late}: send it again, a route found rolled back goes no further than 0`, { cause: error })
  }

  const why = error instanceof Error ? error.message : String(error)
  return new SR_ERR_STATE_UNAVAILABLE(`the rollback was not written (${why}); send it again`, { cause: error })
}
