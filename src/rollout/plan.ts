import { planSchema, type PlanConfig } from '../config/plan-schema.js'

/** A route's rollout plan as the configuration loader returns it. */
export type RolloutPlan = Readonly<PlanConfig>

/** Where a rollback sends the route. */
export type RollbackTarget = PlanConfig['rollbackTo']

/** A place in the plan: a step's index and the percentage it serves. */
export interface PlanStep {
  /**
   * Index into the plan's steps. After a rollback to zero it is 0: the
   * step a retry starts from, while the percentage is 0.
   */
  stepIndex: number
  /** The candidate's share of live requests, 0–100. */
  percentage: number
}

/** The plan a route gets when its configuration has no `plan:` section. */
export const defaultPlan: RolloutPlan = freezePlan(planSchema.parse({}))

/**
 * Reads a stored step index against the plan. Plans are configuration and
 * may lose steps while Redis still holds a route on a later one; such a
 * route is treated as on the last step rather than failing every analysis.
 */
export function clampStepIndex (plan: RolloutPlan, stepIndex: number): number {
  const lastIndex = plan.steps.length - 1

  return Math.min(Math.max(0, Math.trunc(stepIndex)), lastIndex)
}

export function isLastStep (plan: RolloutPlan, stepIndex: number): boolean {
  return clampStepIndex(plan, stepIndex) === plan.steps.length - 1
}

/** The step a promotion leads to, or undefined on the last step. */
export function findNextStep (plan: RolloutPlan, stepIndex: number): PlanStep | undefined {
  const next = clampStepIndex(plan, stepIndex) + 1
  const percentage = plan.steps[next]

  return percentage === undefined ? undefined : { stepIndex: next, percentage }
}

/**
 * The step a rollback leads to. A critical breach, a route that was
 * already rolled back once, and a rollback from the first step all go to
 * zero: a step that failed twice, or an outage, should not stay exposed.
 */
export function findRollbackStep (
  plan: RolloutPlan, stepIndex: number, toZero: boolean
): PlanStep & { target: RollbackTarget } {
  const previous = clampStepIndex(plan, stepIndex) - 1
  const percentage = plan.steps[previous]
  if (toZero || plan.rollbackTo === 'zero' || percentage === undefined) {
    return { target: 'zero', stepIndex: 0, percentage: 0 }
  }

  return { target: 'previous-step', stepIndex: previous, percentage }
}

/** Frozen all the way down, so a shared plan cannot be changed by a caller. */
function freezePlan (plan: PlanConfig): RolloutPlan {
  Object.freeze(plan.steps)
  Object.freeze(plan.critical)
  Object.freeze(plan.thresholds)

  return Object.freeze(plan)
}
