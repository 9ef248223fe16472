import type { FastifyInstance } from 'fastify'
import { parseDuration } from '../config/duration.js'
import { percentageSchema } from '../config/schema.js'
import { SR_ERR_BAD_DURATION, SR_ERR_BAD_PERCENTAGE, SR_ERR_UNKNOWN_IGNORE_RULE } from '../errors.js'
import { buildRouteReport } from '../report/route-report.js'
import { applyTransition, planManualAction, type ManualAction } from '../rollout/rollout-actions.js'
import { readExamples, retentionMs } from '../store/diff-aggregates.js'
import { decideIgnoreRule, forgetIgnoreRule, type IgnoreRuleDecision } from '../store/ignore-rules.js'
import { readHistory } from '../store/rollout-store.js'
import { seedMissingState, viewContext, type ApiContext } from './api-context.js'
import {
  actionBody, changeErrors, commonErrors, examplesBody, examplesQuery, forgottenBody,
  historyEntries, historyQuery, ignoreRuleBody, ignoreRuleDecision, ignoreRuleQuery,
  reportQuery, routeParams, routeReport, routeView, setBody
} from './api-schemas.js'
import { viewOneRoute, viewRoutes } from './route-view.js'

interface RouteParams { route: string }
interface ActionBody { percentage?: number, reason?: string }
type IgnoreRuleKey = Pick<IgnoreRuleDecision, 'rule' | 'pattern'>
type IgnoreRuleChoice = Omit<IgnoreRuleDecision, 'at' | 'actor'>
type HistoryRequest = { Params: RouteParams, Querystring: { limit: number } }
type ReportRequest = { Params: RouteParams, Querystring: { since: string } }
type ExamplesRequest = { Params: RouteParams, Querystring: { kind: string, path: string } }
type DecideRequest = { Params: RouteParams, Body: IgnoreRuleChoice }
type ForgetRequest = { Params: RouteParams, Querystring: IgnoreRuleKey }

/** A manual action as the API names it, and the transition it asks for. */
interface ActionRoute {
  path: string
  summary: string
  body: typeof setBody | typeof actionBody
  toAction: (body: ActionBody) => ManualAction
  /** Rollbacks only move traffic back to the baseline: never rate limited. */
  unlimited?: boolean
}

const actionRoutes: ActionRoute[] = [
  {
    path: 'set',
    summary: 'Set the percentage by hand; a route with a plan is paused until resumed',
    body: setBody,
    toAction: (body) => ({ kind: 'set', percentage: checkPercentage(body.percentage) })
  },
  { path: 'pause', summary: 'Stop promotions; rollbacks still fire', body: actionBody, toAction: () => ({ kind: 'pause' }) },
  {
    path: 'resume',
    summary: 'Let the plan continue from the step at or below the percentage',
    body: actionBody,
    toAction: () => ({ kind: 'resume' })
  },
  { path: 'promote', summary: 'Move to the plan\'s next step now', body: actionBody, toAction: () => ({ kind: 'promote' }) },
  {
    path: 'rollback',
    summary: 'Roll back now, to 0 or the previous step as the plan says (never rate limited)',
    body: actionBody,
    toAction: () => ({ kind: 'roll-back' }),
    unlimited: true
  },
  {
    path: 'retry',
    summary: 'Start the plan again from its first step after a rollback',
    body: actionBody,
    toAction: () => ({ kind: 'retry' })
  }
]

const security = [{ bearerAuth: [] }]
const tags = ['rollout']

const schemas = {
  list: { summary: 'Every configured route\'s rollout', tags, security, response: { 200: { type: 'array', items: routeView }, ...commonErrors } },
  one: { summary: 'One route\'s rollout', tags, security, params: routeParams, response: { 200: routeView, ...commonErrors } },
  history: {
    summary: 'A route\'s changes, newest first',
    tags,
    security,
    params: routeParams,
    querystring: historyQuery,
    response: { 200: historyEntries, ...commonErrors }
  },
  report: {
    summary: 'Where the route\'s candidate diverges, over the last while',
    tags,
    security,
    params: routeParams,
    querystring: reportQuery,
    response: { 200: routeReport, ...commonErrors }
  },
  examples: {
    summary: 'The latest example pairs of one diverging path',
    tags,
    security,
    params: routeParams,
    querystring: examplesQuery,
    response: { 200: examplesBody, ...commonErrors }
  },
  decide: {
    summary: 'Accept or reject a suggested ignore rule',
    tags,
    security,
    params: routeParams,
    body: ignoreRuleBody,
    response: { 200: ignoreRuleDecision, ...changeErrors }
  },
  forget: {
    summary: 'Forget a decision on an ignore rule',
    tags,
    security,
    params: routeParams,
    querystring: ignoreRuleQuery,
    response: { 200: forgottenBody, ...changeErrors }
  }
}

/** Reading routes, their history and figures, and the manual actions on them. */
export async function rolloutRoutes (app: FastifyInstance, context: ApiContext): Promise<void> {
  const { catalog, redis, keys } = context

  app.get('/routes', { schema: schemas.list }, async () => await viewRoutes(viewContext(context), catalog.routes))

  app.get<{ Params: RouteParams }>('/routes/:route', { schema: schemas.one }, async (request) => {
    return await viewOneRoute(viewContext(context), catalog.require(request.params.route))
  })

  app.get<HistoryRequest>('/routes/:route/history', { schema: schemas.history }, async (request) => {
    const route = catalog.require(request.params.route)
    const entries = await readHistory(redis, keys, route.name, request.query.limit)

    return entries.map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() }))
  })

  app.get<ReportRequest>('/routes/:route/report', { schema: schemas.report }, async (request) => {
    const route = catalog.require(request.params.route)
    const sinceMs = checkSince(request.query.since)
    const to = context.now()

    return await buildRouteReport(redis, keys, route.name, to - sinceMs, to)
  })

  app.get<ExamplesRequest>('/routes/:route/examples', { schema: schemas.examples }, async (request) => {
    const route = catalog.require(request.params.route)
    const { kind, path } = request.query
    const examples = await readExamples(redis, keys, route.name, kind, path)

    return { route: route.name, kind, path, examples: examples.map(parseExample) }
  })

  for (const action of actionRoutes) addActionRoute(app, context, action)
  addIgnoreRuleRoutes(app, context)
}

function addActionRoute (app: FastifyInstance, context: ApiContext, action: ActionRoute): void {
  const response = { 200: routeView, ...changeErrors }
  const schema = { summary: action.summary, tags, security, params: routeParams, body: action.body, response }

  app.post<{ Params: RouteParams, Body: ActionBody }>(`/routes/:route/${action.path}`, {
    config: { access: 'operator', unlimited: action.unlimited },
    schema,
    // A bare `curl -X POST` has no body; it means no reason given.
    preValidation: async (request) => { request.body ??= {} }
  }, async (request) => {
    const route = context.catalog.require(request.params.route)
    const manual = action.toAction(request.body)
    // Blank is no reason: the history then says none was given.
    const reason = request.body.reason?.trim() === '' ? undefined : request.body.reason
    const who = { actor: request.adminToken?.name ?? 'unknown', reason }
    const now = context.now()
    let from = 0
    await seedMissingState(context, route)

    const written = await applyTransition(context.redis, context.keys, route.name, (state) => {
      from = state.percentage
      return planManualAction(state, route.plan, manual, who, now)
    }, now)
    const to = written?.percentage ?? from
    const fields = { route: route.name, action: manual.kind, actor: who.actor, from, to, reason: written?.reason }
    const outcome = written === undefined ? `nothing to change at ${to}%` : `percentage from ${from} to ${to}`
    // A rollback stands out in the logs, whoever made it (the controller's
    // and an alert's are warnings too).
    const level = manual.kind === 'roll-back' && written !== undefined ? 'warn' : 'info'
    request.log[level](fields, `${manual.kind} on ${route.name} by ${who.actor}: ${outcome}`)

    return await viewOneRoute(viewContext(context), route)
  })
}

function addIgnoreRuleRoutes (app: FastifyInstance, context: ApiContext): void {
  const { catalog, redis, keys } = context
  const operator = { access: 'operator' as const }

  app.post<DecideRequest>('/routes/:route/ignore-rules', { config: operator, schema: schemas.decide }, async (request) => {
    const route = catalog.require(request.params.route)
    const decision: IgnoreRuleDecision = { ...request.body, at: context.now(), actor: request.adminToken?.name ?? 'unknown' }
    await decideIgnoreRule(redis, keys, route.name, decision)
    request.log.info({ route: route.name, ...decision }, `ignore rule ${decision.rule} ${decision.pattern} ${decision.decision} on ${route.name}`)

    return { route: route.name, ...decision, at: new Date(decision.at).toISOString() }
  })

  app.delete<ForgetRequest>('/routes/:route/ignore-rules', { config: operator, schema: schemas.forget }, async (request) => {
    const route = catalog.require(request.params.route)
    const { rule, pattern } = request.query
    const forgotten = await forgetIgnoreRule(redis, keys, route.name, rule, pattern)
    if (!forgotten) throw new SR_ERR_UNKNOWN_IGNORE_RULE(route.name, rule, pattern)

    const fields = { route: route.name, rule, pattern, actor: request.adminToken?.name }
    request.log.info(fields, `ignore rule ${rule} ${pattern} forgotten on ${route.name}`)
    return { route: route.name, rule, pattern, forgotten }
  })
}

function checkPercentage (value: number | undefined): number {
  if (!percentageSchema.safeParse(value).success) throw new SR_ERR_BAD_PERCENTAGE(String(value))

  return value as number
}

/** Figures are kept a day: a longer window would read buckets that are gone. */
export function checkSince (since: string): number {
  const sinceMs = parseDuration(since)
  if (sinceMs === undefined || sinceMs > retentionMs) throw new SR_ERR_BAD_DURATION('since', '1d', since)

  return sinceMs
}

function parseExample (encoded: string): Record<string, unknown> {
  try {
    return JSON.parse(encoded) as Record<string, unknown>
  } catch {
    return { unreadable: encoded.slice(0, 1_000) }
  }
}
