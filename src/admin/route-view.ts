import type { RedisClient } from '../store/redis-connection.js'
import { nameRoutes, type RouteConfig } from '../config/schema.js'
import { SR_ERR_UNKNOWN_ROUTE } from '../errors.js'
import type { RolloutPlan } from '../rollout/plan.js'
import { stepAtOrBelow } from '../rollout/rollout-actions.js'
import { readDivergence, retentionMs } from '../store/diff-aggregates.js'
import type { Keys } from '../store/keys.js'
import { readRolloutState, readRolloutStates, type RolloutState, type RolloutStatus } from '../store/rollout-store.js'

/** A route's rollout as the admin API shows it. Times are ISO 8601. */
export interface RouteView {
  name: string
  paths: string[]
  percentage: number
  status: RolloutStatus
  /** The plan step the route is on; null without a plan. */
  step: { index: number, percentage: number, of: number } | null
  stepStartedAt: string | null
  waitingFor: string | null
  failingIntervals: number
  version: number
  /** When the route last changed (not when the controller last looked), by whom and why. */
  updatedAt: string | null
  actor: string
  reason: string
  plan: PlanSummary | null
  divergence: StepDivergence
}

export interface PlanSummary {
  steps: number[]
  intervalMs: number
  thresholds: RolloutPlan['thresholds']
}

/** Compared and diverging pairs of the current step (or the last 10 min without one). */
export interface StepDivergence {
  from: string
  to: string
  compared: number
  /** Diverging and status-mismatched pairs. */
  diverging: number
  /** diverging / compared, a fraction from 0 to 1; null with nothing compared. */
  rate: number | null
}

/** The window shown for routes that have no plan step to count from. */
export const recentWindowMs = 10 * 60 * 1_000

/** The configured routes by name, for lookups that answer 404 on a typo. */
export class RouteCatalog {
  readonly routes: readonly RouteConfig[]
  readonly #byName: Map<string, RouteConfig>

  constructor (routes: readonly RouteConfig[]) {
    this.routes = routes
    this.#byName = new Map(routes.map((route) => [route.name, route]))
  }

  has (name: string): boolean {
    return this.#byName.has(name)
  }

  require (name: string): RouteConfig {
    const route = this.#byName.get(name)
    if (route === undefined) throw new SR_ERR_UNKNOWN_ROUTE(name, `: this gateway has ${nameRoutes(this.routes)}`)

    return route
  }
}

export interface ViewContext {
  redis: RedisClient
  keys: Keys
  now: number
  /** The percentage this process serves a route with, shown while Redis holds no state for it. */
  served: (route: string) => number | undefined
}

export async function viewRoutes (context: ViewContext, routes: readonly RouteConfig[]): Promise<RouteView[]> {
  const states = await readRolloutStates(context.redis, context.keys)

  return await Promise.all(routes.map(async (route) => await viewRoute(context, route, states.get(route.name))))
}

export async function viewOneRoute (context: ViewContext, route: RouteConfig): Promise<RouteView> {
  const state = await readRolloutState(context.redis, context.keys, route.name)

  return await viewRoute(context, route, state)
}

/** A state as stored, or a stand-in for a route Redis knows nothing about yet. */
export async function viewRoute (context: ViewContext, route: RouteConfig, stored: RolloutState | undefined): Promise<RouteView> {
  const state = stored ?? standInState(route, context.served(route.name))
  const plan = route.plan
  const divergence = await readStepDivergence(context, route.name, plan === undefined ? undefined : state.stepStartedAt)

  return {
    name: route.name,
    paths: route.paths,
    percentage: state.percentage,
    status: state.status ?? 'manual',
    step: plan === undefined ? null : describeStep(plan, state),
    stepStartedAt: isoOrNull(state.stepStartedAt),
    waitingFor: state.waitingFor ?? describeWaiting(plan, state),
    failingIntervals: state.failingIntervals ?? 0,
    version: state.version,
    updatedAt: stored === undefined ? null : isoOrNull(state.changedAt ?? state.updatedAt),
    actor: state.actor,
    reason: state.reason,
    plan: plan === undefined ? null : { steps: plan.steps, intervalMs: plan.intervalMs, thresholds: plan.thresholds },
    divergence
  }
}

/**
 * Figures are read from the step's start, but never from before the
 * aggregates' retention: older buckets are gone, and reading them would
 * only cost one empty read per 10 s bucket.
 */
async function readStepDivergence (context: ViewContext, route: string, stepStartedAt: number | undefined): Promise<StepDivergence> {
  const to = context.now
  const from = stepStartedAt === undefined ? to - recentWindowMs : Math.max(stepStartedAt, to - retentionMs)
  // TODO(perf): a day-old step reads 8,640 bucket hashes per route on every
  // GET /api/routes; a running total per step in the store would be one read.
  const report = await readDivergence(context.redis, context.keys, route, from, to)

  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    compared: report.compared,
    diverging: report.diverging + report.statusMismatch,
    rate: report.divergenceRate
  }
}

function describeStep (plan: RolloutPlan, state: RolloutState): RouteView['step'] {
  const index = state.stepIndex ?? stepAtOrBelow(plan, state.percentage)

  return { index, percentage: plan.steps[index] ?? plan.steps.at(-1) ?? 100, of: plan.steps.length }
}

function describeWaiting (plan: RolloutPlan | undefined, state: RolloutState): string | null {
  if (plan === undefined) return null
  if (state.status === undefined || state.status === 'manual') return 'the controller to start the plan'
  // Just promoted: nothing has been analysed on this step yet.
  if (state.status === 'ramping') return `the first analysis of this step (every ${plan.intervalMs / 1_000} s)`

  return null
}

function standInState (route: RouteConfig, served: number | undefined): RolloutState {
  return {
    route: route.name,
    percentage: served ?? route.percentage,
    version: 0,
    updatedAt: 0,
    actor: 'config',
    reason: 'Redis holds no rollout state for this route yet; the gateways write it within redis.rereadMs'
  }
}

function isoOrNull (epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString()
}
