import type { FastifyInstance } from 'fastify'
import { SR_ERR_UNKNOWN_ROUTE } from '../errors.js'
import type { ApiContext } from './api-context.js'
import { alertOutcome, alertmanagerBody, alertErrors, webhookBody } from './api-schemas.js'
import {
  alertFigures, describeAlerts, groupAlertsByRoute, resolveRoutes, rollBackRoutes, type AlertmanagerPayload, type RouteMove
} from './alert-rollback.js'

interface WebhookBody {
  route: string
  reason: string
  source?: string
}

const security = [{ bearerAuth: [] }]
const tags = ['alerts']

/**
 * Alert receivers: an alert that names a route rolls it back at once,
 * without anyone awake. Not rate limited: a rollback only moves traffic
 * back to the baseline, and an alert storm is exactly when it must work.
 */
export async function alertRoutes (app: FastifyInstance, context: ApiContext): Promise<void> {
  app.post<{ Body: AlertmanagerPayload }>('/alerts/alertmanager', {
    config: { access: 'operator', unlimited: true },
    schema: {
      summary: 'Alertmanager webhook receiver: firing alerts labelled with a route roll it back',
      tags,
      security,
      body: alertmanagerBody,
      response: { 200: alertOutcome, ...alertErrors }
    }
  }, async (request) => {
    const payload = request.body
    const grouped = groupAlertsByRoute(payload, context.catalog)
    const requests = [...grouped.routes].map(([name, alerts]) => ({
      route: context.catalog.require(name),
      actor: 'alertmanager',
      reason: describeAlerts(alerts),
      figures: alertFigures(payload, alerts)
    }))
    const outcome = await rollBackRoutes(context, requests)
    logOutcome(request.log, 'alertmanager', outcome, grouped.unknown)

    return { ...outcome, unknown: grouped.unknown, ignored: grouped.ignored }
  })

  app.post<{ Body: WebhookBody }>('/alerts/webhook', {
    config: { access: 'operator', unlimited: true },
    schema: {
      summary: 'Plain alert webhook: roll a route (or `*`, every route) back',
      tags,
      security,
      body: webhookBody,
      response: { 200: alertOutcome, ...alertErrors }
    }
  }, async (request) => {
    const { route, reason, source = 'webhook' } = request.body
    const names = resolveRoutes(context.catalog, route)
    const unknown = names.filter((name) => !context.catalog.has(name))
    if (unknown.length > 0) throw new SR_ERR_UNKNOWN_ROUTE(unknown.join(', '))

    const figures = { source, tokenName: request.adminToken?.name, reason }
    const requests = names.map((name) => ({ route: context.catalog.require(name), actor: source, reason, figures }))
    const outcome = await rollBackRoutes(context, requests)
    logOutcome(request.log, source, outcome, [])

    return { ...outcome, unknown: [], ignored: { resolved: 0, withoutRoute: 0 } }
  })
}

function logOutcome (log: FastifyInstance['log'], actor: string, outcome: { rolledBack: RouteMove[] }, unknown: string[]): void {
  for (const { route, from, to } of outcome.rolledBack) {
    log.warn({ route, actor, from, to }, `alert rolled ${route} back: percentage from ${from} to ${to}`)
  }
  if (unknown.length > 0) log.warn({ actor, unknown }, 'alert names routes that are not configured')
}
