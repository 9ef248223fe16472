import {
  findNextStep, findRollbackStep, type PlanStep, type RollbackTarget, type RolloutPlan
} from './plan.js'
import { rateDifferenceInterval, wilsonInterval, type RateInterval } from './statistics.js'

/*
 * The analysis of one step and the decision it leads to: promote, hold,
 * roll back, pause or complete. Pure: the plan, the route's state, the
 * step's figures and the time come in; a decision carrying every figure
 * and threshold it used comes out, to be stored and explained later.
 *
 * The rule in short:
 * - a rate check passes when its whole 95% interval is on the good side of
 *   its threshold, and fails when the whole interval is on the bad side; in
 *   between, or below its minimum samples, it proves nothing and the route
 *   holds (low traffic is read neither as healthy nor as failing); latency
 *   is judged on its p99 once the minimum samples are in;
 * - a promotion needs every check passing, the minimum samples and the
 *   minimum time on the step, and no pause, operator stop or rollback;
 * - a rollback needs a failing check on `failingIntervals` consecutive
 *   analyses, or one critical breach; it fires even while the route is
 *   paused or holding, because backing off is always the safe direction
 *   and a pause must never keep a failing candidate serving;
 * - a step that reaches its progress deadline undecided is paused, so
 *   people are asked instead of the rule guessing.
 */

/** A route's rollout state, as the controller reads it from the store. */
export interface StepState {
  /** Index into the plan's steps of the step the route is on. */
  stepIndex: number
  /** The candidate's current share of live requests, 0–100. */
  percentage: number
  /** When the route entered this step (epoch ms). */
  stepStartedAt: number
  /** Consecutive failing analyses before this one on this step. */
  failingIntervals: number
  /** Paused by a person or by a progress deadline: no promotion. */
  paused: boolean
  /** Rolled back and waiting for a person to retry: no promotion. */
  rolledBack: boolean
  /** An operator stopped automatic promotion for every route. */
  automationPaused: boolean
}

/**
 * The figures of the current step, counted since the route entered it
 * (the controller starts new counts at every change of step). Requests
 * are live requests; baseline figures may include shadow answers when the
 * candidate serves every live request.
 */
export interface StepWindow {
  /** Pairs compared, excluding those not comparable. */
  comparedPairs: number
  /** Compared pairs that diverge after normalization and noise. */
  divergingPairs: number
  candidateRequests: number
  /** Candidate answers counted as failures: 5xx and the route's failOnStatus. */
  candidateErrors: number
  baselineRequests: number
  baselineErrors: number
  /** Candidate requests that went down the fallback chain. */
  candidateFallbacks: number
  candidateP99Ms: number
  baselineP99Ms: number
}

export interface DecisionInput {
  plan: RolloutPlan
  state: StepState
  window: StepWindow
  /** The time of this analysis (epoch ms); the rule reads no clock. */
  now: number
}

export type RateCheckName = 'divergence' | 'error-rate' | 'fallback-rate' | 'critical-error-rate'
export type CheckName = RateCheckName | 'latency'

/**
 * pass and fail are judged with confidence; inconclusive means the
 * interval straddles the threshold; too-few-samples means not judged.
 */
export type CheckOutcome = 'pass' | 'fail' | 'inconclusive' | 'too-few-samples'

/** A rate judged by its 95% interval. Rates and thresholds are fractions 0–1. */
export interface RateCheck extends RateInterval {
  name: RateCheckName
  outcome: CheckOutcome
  /**
   * The highest acceptable rate; for error-rate the estimate and bounds
   * are the candidate's rate minus the baseline's, and this is the
   * allowed excess.
   */
  threshold: number
  /** Trials behind the rate (for error-rate, the smaller side's). */
  samples: number
  minSamples: number
}

/** The candidate's p99 latency against the baseline's. */
export interface LatencyCheck {
  name: 'latency'
  outcome: CheckOutcome
  candidateP99Ms: number
  baselineP99Ms: number
  /** The larger of baseline p99 × p99Ratio and baseline p99 + p99ExcessMs. */
  allowedP99Ms: number
  samples: number
  minSamples: number
}

export type CheckResult = RateCheck | LatencyCheck

/** Everything an analysis looked at, stored with its decision. */
export interface Analysis {
  /** The `now` of the analysis (epoch ms). */
  analyzedAt: number
  stepIndex: number
  percentage: number
  timeOnStepMs: number
  minStepMs: number
  /** The figures as judged (counts capped at their totals). */
  window: StepWindow
  /** The checks a promotion needs: divergence, error rate, fallback rate, latency. */
  checks: CheckResult[]
  /** The check that rolls back at once. */
  critical: RateCheck
}

interface DecisionBase {
  /** One line for people: what was decided and on which figures. */
  reason: string
  /** Consecutive failing analyses including this one: the caller stores it. */
  failingIntervals: number
  analysis: Analysis
}

/** Move to the next step; the caller resets the step's counts. */
export interface PromoteDecision extends DecisionBase {
  kind: 'promote'
  stepIndex: number
  percentage: number
}

/** Stay on the step and look again after the next interval. */
export interface HoldDecision extends DecisionBase {
  kind: 'hold'
}

export interface RollBackDecision extends DecisionBase {
  kind: 'roll-back'
  target: RollbackTarget
  /** 0 after a rollback to zero: the step a retry starts from. */
  stepIndex: number
  percentage: number
  /** True when a critical breach caused it, at once. */
  critical: boolean
  failedChecks: CheckName[]
}

/** The progress deadline passed undecided: stop promoting and notify. */
export interface PauseDecision extends DecisionBase {
  kind: 'pause'
}

/** On the last step with no failing check to act on: nothing to do. */
export interface CompleteDecision extends DecisionBase {
  kind: 'complete'
}

export type Decision =
  | PromoteDecision
  | HoldDecision
  | RollBackDecision
  | PauseDecision
  | CompleteDecision

/**
 * Decides what one analysis of a route's current step leads to. Call it
 * once per plan interval: the count of failing intervals assumes so.
 */
export function decideStep (input: DecisionInput): Decision {
  const analysis = analyzeStep(input)
  if (input.state.percentage === 0) return holdAtZero(input.state, analysis)

  const critical = analysis.critical.outcome === 'fail'
  const failingIntervals = countFailingIntervals(input.state, analysis)
  if (critical || failingIntervals >= input.plan.failingIntervals) {
    return rollBack(input, analysis, failingIntervals, critical)
  }

  const next = findNextStep(input.plan, input.state.stepIndex)
  if (next === undefined) return complete(input, analysis, failingIntervals)

  const people = findStateBlockers(input.state)
  const figures = findBlockers(input, analysis, failingIntervals)
  if (people.length === 0 && figures.length === 0) return promote(input, analysis, next)

  if (mayPause(input)) return pause(input, analysis, failingIntervals, figures)

  return { kind: 'hold', reason: describeHold(people, figures), failingIntervals, analysis }
}

/** Runs every check on the step's figures. */
export function analyzeStep (input: DecisionInput): Analysis {
  const { plan, state, now } = input
  const window = capCounts(input.window)

  return {
    analyzedAt: now,
    stepIndex: state.stepIndex,
    percentage: state.percentage,
    timeOnStepMs: Math.max(0, now - state.stepStartedAt),
    minStepMs: plan.minStepMs,
    window,
    checks: [
      checkDivergence(plan, window),
      checkErrorRate(plan, window),
      checkFallbackRate(plan, window),
      checkLatency(plan, window)
    ],
    critical: checkCriticalErrorRate(plan, window)
  }
}

/**
 * Counters reach the store in separate flushes, so a count can briefly run
 * ahead of its total; judging it as is would break the interval.
 */
function capCounts (window: StepWindow): StepWindow {
  return {
    ...window,
    divergingPairs: Math.min(window.divergingPairs, window.comparedPairs),
    candidateErrors: Math.min(window.candidateErrors, window.candidateRequests),
    baselineErrors: Math.min(window.baselineErrors, window.baselineRequests),
    candidateFallbacks: Math.min(window.candidateFallbacks, window.candidateRequests)
  }
}

function checkDivergence (plan: RolloutPlan, window: StepWindow): RateCheck {
  const interval = wilsonInterval(window.divergingPairs, window.comparedPairs)

  return judgeRate('divergence', interval, {
    threshold: plan.thresholds.divergencePercent / 100,
    samples: window.comparedPairs,
    minSamples: plan.minComparedPairs
  })
}

function checkErrorRate (plan: RolloutPlan, window: StepWindow): RateCheck {
  const candidate = { count: window.candidateErrors, total: window.candidateRequests }
  const baseline = { count: window.baselineErrors, total: window.baselineRequests }

  return judgeRate('error-rate', rateDifferenceInterval(candidate, baseline), {
    threshold: plan.thresholds.errorExcessPoints / 100,
    samples: Math.min(window.candidateRequests, window.baselineRequests),
    minSamples: plan.minCandidateRequests
  })
}

function checkFallbackRate (plan: RolloutPlan, window: StepWindow): RateCheck {
  const interval = wilsonInterval(window.candidateFallbacks, window.candidateRequests)

  return judgeRate('fallback-rate', interval, {
    threshold: plan.thresholds.fallbackPercent / 100,
    samples: window.candidateRequests,
    minSamples: plan.minCandidateRequests
  })
}

function checkCriticalErrorRate (plan: RolloutPlan, window: StepWindow): RateCheck {
  const interval = wilsonInterval(window.candidateErrors, window.candidateRequests)

  return judgeRate('critical-error-rate', interval, {
    threshold: plan.critical.errorPercent / 100,
    samples: window.candidateRequests,
    minSamples: plan.critical.minCandidateRequests
  })
}

interface RateLimits {
  threshold: number
  samples: number
  minSamples: number
}

function judgeRate (name: RateCheckName, interval: RateInterval, limits: RateLimits): RateCheck {
  const { threshold, samples, minSamples } = limits
  const check = { name, ...interval, threshold, samples, minSamples }
  if (samples < minSamples) return { ...check, outcome: 'too-few-samples' }
  if (interval.lower > threshold) return { ...check, outcome: 'fail' }
  if (interval.upper < threshold) return { ...check, outcome: 'pass' }

  return { ...check, outcome: 'inconclusive' }
}

/*
 * TODO(stats): a p99 has no interval here; past the minimum samples it is
 * taken at face value, so a few slow requests on a quiet step can fail it.
 * Two failing intervals in a row soften this; a quantile interval would fix it.
 */
function checkLatency (plan: RolloutPlan, window: StepWindow): LatencyCheck {
  const { p99Ratio, p99ExcessMs } = plan.thresholds
  const { candidateP99Ms, baselineP99Ms } = window
  const allowedP99Ms = Math.max(baselineP99Ms * p99Ratio, baselineP99Ms + p99ExcessMs)
  const samples = Math.min(window.candidateRequests, window.baselineRequests)
  const minSamples = plan.minCandidateRequests
  const check = {
    name: 'latency' as const, candidateP99Ms, baselineP99Ms, allowedP99Ms, samples, minSamples
  }
  if (samples < minSamples) return { ...check, outcome: 'too-few-samples' }

  return { ...check, outcome: candidateP99Ms > allowedP99Ms ? 'fail' : 'pass' }
}

/** The count restarts whenever an analysis has no failing check. */
function countFailingIntervals (state: StepState, analysis: Analysis): number {
  const failing = analysis.checks.some((check) => check.outcome === 'fail')

  return failing ? state.failingIntervals + 1 : 0
}

/** The critical check first when it fired, then every failing check. */
function listFailedChecks (analysis: Analysis, critical: boolean): CheckResult[] {
  const failing = analysis.checks.filter((check) => check.outcome === 'fail')

  return critical ? [analysis.critical, ...failing] : failing
}

function holdAtZero (state: StepState, analysis: Analysis): HoldDecision {
  const reason = state.rolledBack
    ? 'holding at 0%: rolled back, waiting for a person to retry'
    : 'holding at 0%: waiting for a person to start the plan'

  return { kind: 'hold', reason, failingIntervals: 0, analysis }
}

/**
 * A critical breach goes to zero whatever the plan says: an outage at the
 * previous step's share is still an outage.
 */
function rollBack (
  input: DecisionInput, analysis: Analysis, failingIntervals: number, critical: boolean
): RollBackDecision {
  const { plan, state } = input
  const target = findRollbackStep(plan, state.stepIndex, critical || state.rolledBack)
  const failed = listFailedChecks(analysis, critical)
  const failedChecks = failed.map((check) => check.name)

  const route = `from ${state.percentage}% to ${target.percentage}%`
  const when = critical ? 'at once' : `after ${failingIntervals} failing intervals`
  const reason = `rolling back ${route} ${when}: ${failed.map(describeFailure).join('; ')}`

  return {
    kind: 'roll-back', ...target, critical, failedChecks, reason, failingIntervals, analysis
  }
}

function complete (
  input: DecisionInput, analysis: Analysis, failingIntervals: number
): CompleteDecision {
  const failing = failingIntervals === 0
    ? ''
    : `; ${describeFailingIntervals(input.plan, analysis, failingIntervals)}`
  const reason = `complete: the candidate serves ${input.state.percentage}%${failing}`

  return { kind: 'complete', reason, failingIntervals, analysis }
}

function promote (input: DecisionInput, analysis: Analysis, next: PlanStep): PromoteDecision {
  const { comparedPairs, candidateRequests } = analysis.window
  const evidence = `${comparedPairs} compared pairs and ${candidateRequests} candidate requests`
  const route = `from ${input.state.percentage}% to ${next.percentage}%`
  const reason = `promoting ${route}: every check passed on ${evidence}`

  return { kind: 'promote', ...next, reason, failingIntervals: 0, analysis }
}

function pause (
  input: DecisionInput, analysis: Analysis, failingIntervals: number, blockers: string[]
): PauseDecision {
  const deadline = formatDuration(input.plan.progressDeadlineMs)
  const step = `step ${input.state.stepIndex + 1} (${input.state.percentage}%)`
  const reason = `pausing: no decision within ${deadline} on ${step}: ${blockers.join('; ')}`

  return { kind: 'pause', reason, failingIntervals, analysis }
}

/**
 * A route paused by a person, rolled back, or under an operator's stop is
 * already waiting for people; pausing it again would only notify twice.
 */
function mayPause (input: DecisionInput): boolean {
  const { plan, state, now } = input

  return !waitsForPeople(state) && now - state.stepStartedAt >= plan.progressDeadlineMs
}

function waitsForPeople (state: StepState): boolean {
  return state.paused || state.rolledBack || state.automationPaused
}

/**
 * "holding: 140 of 500 compared pairs". A route people hold says so
 * first, as what it waits for, and the figures after it as what the step
 * has meanwhile: "paused, waiting for a person to resume (meanwhile: …)".
 */
function describeHold (people: string[], figures: string[]): string {
  if (people.length === 0) return `holding: ${figures.join('; ')}`

  return figures.length === 0 ? people.join('; ') : `${people.join('; ')} (meanwhile: ${figures.join('; ')})`
}

/**
 * Every reason in the step's figures not to promote yet, in words, most
 * basic first; what people hold a route for is findStateBlockers'.
 */
function findBlockers (
  input: DecisionInput, analysis: Analysis, failingIntervals: number
): string[] {
  const blockers: string[] = []
  if (failingIntervals > 0) {
    blockers.push(describeFailingIntervals(input.plan, analysis, failingIntervals))
  }

  blockers.push(...findSampleBlockers(input.plan, analysis.window))
  // While people hold the route, the step's clock decides nothing.
  const leftMs = analysis.minStepMs - analysis.timeOnStepMs
  if (leftMs > 0 && !waitsForPeople(input.state)) blockers.push(`minimum time on step, ${formatDuration(leftMs)} left`)

  // Only rates can be inconclusive: latency is judged at face value.
  const rates = analysis.checks.filter(isRateCheck)
  const unsure = rates.filter((check) => check.outcome === 'inconclusive')

  return [...blockers, ...unsure.map(describeUncertainty)]
}

function findStateBlockers (state: StepState): string[] {
  const blockers: string[] = []
  if (state.rolledBack) {
    blockers.push(`rolled back to ${state.percentage}%, waiting for a person to retry`)
  }
  if (state.paused) blockers.push('paused, waiting for a person to resume')
  if (state.automationPaused) blockers.push('automation paused by an operator')

  return blockers
}

function findSampleBlockers (plan: RolloutPlan, window: StepWindow): string[] {
  const counts: Array<[number, number, string]> = [
    [window.comparedPairs, plan.minComparedPairs, 'compared pairs'],
    [window.candidateRequests, plan.minCandidateRequests, 'candidate requests'],
    [window.baselineRequests, plan.minCandidateRequests, 'baseline requests']
  ]
  const short = counts.filter(([count, minimum]) => count < minimum)

  return short.map(([count, minimum, what]) => `${count} of ${minimum} ${what}`)
}

function describeFailingIntervals (
  plan: RolloutPlan, analysis: Analysis, failingIntervals: number
): string {
  const failed = listFailedChecks(analysis, false).map(describeFailure).join(', ')

  return `${failingIntervals} of ${plan.failingIntervals} failing intervals: ${failed}`
}

function describeFailure (check: CheckResult): string {
  if (check.name === 'latency') {
    const allowed = formatMs(check.allowedP99Ms)
    return `latency p99 ${formatMs(check.candidateP99Ms)} over the allowed ${allowed}`
  }

  const bound = formatRate(check, check.lower)
  const threshold = formatRate(check, check.threshold)

  return `${describeRate(check)} lower bound ${bound} over ${threshold}`
}

function describeUncertainty (check: RateCheck): string {
  const bound = formatRate(check, check.upper)
  const threshold = formatRate(check, check.threshold)

  return `${describeRate(check)} upper bound ${bound} not yet under ${threshold}`
}

function isRateCheck (check: CheckResult): check is RateCheck {
  return check.name !== 'latency'
}

function describeRate (check: RateCheck): string {
  const names: Record<RateCheckName, string> = {
    divergence: 'divergence',
    'error-rate': 'error rate excess',
    'fallback-rate': 'fallback rate',
    'critical-error-rate': 'candidate error rate'
  }

  return `${names[check.name]} ${formatRate(check, check.estimate)}`
}

/** The error-rate check is a difference of rates, read in points. */
function formatRate (check: RateCheck, fraction: number): string {
  const value = Number((fraction * 100).toFixed(2))

  if (check.name !== 'error-rate') return `${value}%`

  return value === 1 ? '1 point' : `${value} points`
}

function formatMs (ms: number): string {
  return `${Math.round(ms)} ms`
}

function formatDuration (ms: number): string {
  const seconds = Math.ceil(ms / 1_000)
  if (seconds < 120) return `${seconds} s`

  return `${Math.round(seconds / 60)} min`
}
