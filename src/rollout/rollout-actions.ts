import type { RedisClient } from '../store/redis-connection.js'
import { SR_ERR_ACTION_REFUSED, SR_ERR_UNKNOWN_ROUTE } from '../errors.js'
import type { Keys } from '../store/keys.js'
import {
  readRolloutState, writeRolloutState, type HistoryEntry, type RolloutState, type RolloutStateChange
} from '../store/rollout-store.js'
import { findNextStep, findRollbackStep, isLastStep, type RolloutPlan } from './plan.js'

/** What a person (admin API, CLI, UI) can do to a route. */
export type ManualAction =
  | { kind: 'set', percentage: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'promote' }
  | { kind: 'roll-back' }
  | { kind: 'retry' }

/** A state change with the history entry that explains it. */
export interface Transition {
  change: RolloutStateChange
  history: Omit<HistoryEntry, 'at' | 'route'>
}

export interface Actor {
  /** Who: a token's name, "controller", "alertmanager". */
  actor: string
  reason?: string
}

/** The reason recorded when a person gave none. */
const noReasonGiven = 'no reason given'

/** How often a change is tried again when someone else wrote in between. */
const maxAttempts = 5

/**
 * The state a person's action leads to, from the state it was taken on.
 * Pure. Setting a percentage pauses the plan on that route until resumed,
 * so automation never undoes a person's choice. Undefined when the action
 * would change nothing.
 */
export function planManualAction (state: RolloutState, plan: RolloutPlan | undefined, action: ManualAction, who: Actor, now: number): Transition | undefined {
  const base = carryOver(state)
  // The history shows the action, the percentages and who: a missing
  // reason is said to be missing rather than made up from those.
  const why = who.reason ?? noReasonGiven
  const entry = (to: number): Transition['history'] => ({ actor: who.actor, action: action.kind, from: state.percentage, to, reason: why })

  switch (action.kind) {
    case 'set': {
      const stepIndex = plan === undefined ? undefined : stepAtOrBelow(plan, action.percentage)
      const change = { ...base, percentage: action.percentage, status: plan === undefined ? 'manual' as const : 'paused' as const, stepIndex, stepStartedAt: now, failingIntervals: 0, waitingFor: plan === undefined ? undefined : 'paused: the percentage was set by hand; resume to let the plan continue' }
      return { change: { ...change, actor: who.actor, reason: why }, history: entry(action.percentage) }
    }
    case 'roll-back':
      return planRollback(state, plan, who, why, now, 'roll-back')
    default:
      return planPlanAction(state, requirePlan(state.route, plan, action), action, who, why, now)
  }
}

/** An alert names the route: roll it back at once, whatever the plan was doing. */
export function planAlertRollback (state: RolloutState, plan: RolloutPlan | undefined, who: Actor & { alert: unknown }, now: number): Transition | undefined {
  const transition = planRollback(state, plan, who, who.reason ?? `alert from ${who.actor}`, now, 'alert')
  return transition === undefined ? undefined : { ...transition, history: { ...transition.history, figures: who.alert } }
}

/**
 * A rollback, by a person or an alert. A route already rolled back to zero
 * has nothing to change, and its history keeps no entry of a change that
 * was none; one rolled back to a step goes to zero, so that repeated
 * rollbacks (an alert's notifications) do not walk it down a step each.
 */
function planRollback (state: RolloutState, plan: RolloutPlan | undefined, who: Actor, why: string, now: number, action: string): Transition | undefined {
  if (state.status === 'rolled-back' && state.percentage === 0) return undefined

  const target = plan === undefined ? { stepIndex: 0, percentage: 0 } : findRollbackStep(plan, state.stepIndex ?? 0, state.status === 'rolled-back')
  return rolledBack(state, target, who, why, now, action, plan !== undefined)
}

/**
 * Applies a transition computed from the state as stored, again and again
 * while someone else writes in between, so no change is lost or applied on
 * a stale state. Returns the state written (undefined when `compute` has
 * nothing to change).
 */
export async function applyTransition (redis: RedisClient, keys: Keys, route: string, compute: (state: RolloutState) => Transition | undefined, now = Date.now()): Promise<RolloutState | undefined> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const state = await readRolloutState(redis, keys, route)
    if (state === undefined) throw new SR_ERR_UNKNOWN_ROUTE(route)

    const transition = compute(state)
    if (transition === undefined) return undefined

    const written = await writeRolloutState(redis, keys, route, transition.change, { expectVersion: state.version, history: transition.history, now })
    if (written !== undefined) return written
  }

  throw new SR_ERR_ACTION_REFUSED(route, 'its state kept changing while the change was being written; try again')
}

function planPlanAction (state: RolloutState, plan: RolloutPlan, action: Exclude<ManualAction, { kind: 'set' | 'roll-back' }>, who: Actor, why: string, now: number): Transition {
  const base = { ...carryOver(state), actor: who.actor, reason: why }
  const history = (to: number): Transition['history'] => ({ actor: who.actor, action: action.kind, from: state.percentage, to, reason: why })

  if (action.kind === 'pause') {
    refuseWhen(state, state.status === 'rolled-back', 'it is rolled back; retry it to start the plan again')
    return { change: { ...base, status: 'paused', waitingFor: `paused by ${who.actor}; resume to let the plan continue` }, history: history(state.percentage) }
  }
  if (action.kind === 'resume') {
    refuseWhen(state, state.status === 'rolled-back', 'it is rolled back; retry it to start the plan again')
    const stepIndex = stepAtOrBelow(plan, state.percentage)
    const percentage = Math.max(state.percentage, plan.steps[stepIndex] ?? 0)
    return { change: { ...base, ...onStep(plan, stepIndex, percentage, now) }, history: history(percentage) }
  }
  if (action.kind === 'retry') {
    refuseWhen(state, state.status !== 'rolled-back', 'only a rolled-back route can be retried')
    const first = plan.steps[0] ?? 0
    return { change: { ...base, ...onStep(plan, 0, first, now) }, history: history(first) }
  }

  const next = findNextStep(plan, state.stepIndex ?? stepAtOrBelow(plan, state.percentage))
  refuseWhen(state, next === undefined, 'it is on the plan\'s last step already')
  refuseWhen(state, state.status === 'rolled-back', 'it is rolled back; retry it to start the plan again')
  const { stepIndex, percentage } = next as { stepIndex: number, percentage: number }
  const status = isLastStep(plan, stepIndex) ? 'complete' as const : state.status ?? 'ramping'
  return { change: { ...base, ...onStep(plan, stepIndex, percentage, now), status }, history: history(percentage) }
}

/** Entering a step: its figures start from now. */
export function onStep (plan: RolloutPlan, stepIndex: number, percentage: number, now: number): Pick<RolloutStateChange, 'percentage' | 'stepIndex' | 'stepStartedAt' | 'failingIntervals' | 'status' | 'waitingFor'> {
  return {
    percentage,
    stepIndex,
    stepStartedAt: now,
    failingIntervals: 0,
    status: isLastStep(plan, stepIndex) && percentage >= (plan.steps.at(-1) ?? 100) ? 'complete' : 'ramping',
    waitingFor: undefined
  }
}

function rolledBack (state: RolloutState, target: { stepIndex: number, percentage: number }, who: Actor, why: string, now: number, action: string, hasPlan: boolean): Transition {
  const change: RolloutStateChange = {
    ...carryOver(state),
    actor: who.actor,
    reason: why,
    percentage: target.percentage,
    stepIndex: target.stepIndex,
    stepStartedAt: now,
    failingIntervals: 0,
    status: 'rolled-back',
    waitingFor: hasPlan ? 'rolled back: waiting for a person to retry' : `rolled back: no plan to retry; set the percentage by hand with ${setCommand(state.route)}`
  }

  return { change, history: { actor: who.actor, action, from: state.percentage, to: target.percentage, reason: why } }
}

/** The highest step at or below a percentage; the first step when below them all. */
export function stepAtOrBelow (plan: RolloutPlan, percentage: number): number {
  let found = 0
  plan.steps.forEach((step, index) => { if (step <= percentage) found = index })

  return found
}

function carryOver (state: RolloutState): RolloutStateChange {
  const { version: _version, updatedAt: _updatedAt, route: _route, ...rest } = state
  return rest
}

function requirePlan (route: string, plan: RolloutPlan | undefined, action: ManualAction): RolloutPlan {
  if (plan === undefined) throw new SR_ERR_ACTION_REFUSED(route, `${action.kind} needs a plan, and the route has none in its configuration; set the percentage by hand instead with ${setCommand(route)}`)
  return plan
}

/**
 * Only a person moves a route without a plan. Its messages name the
 * command, or a rolled-back route sends people to retry, which it refuses.
 */
function setCommand (route: string): string {
  return `shadowramp set ${route} <percentage>`
}

function refuseWhen (state: RolloutState, refused: boolean, why: string): void {
  if (refused) throw new SR_ERR_ACTION_REFUSED(state.route, why)
}
