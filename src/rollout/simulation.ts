import { decideStep, type StepState, type StepWindow } from './decision-rule.js'
import type { RolloutPlan } from './plan.js'

/*
 * A seeded simulation of rollouts driven by the decision rule, to measure
 * how often it is wrong and how long it takes. Traffic and outcomes are
 * drawn from known true rates, so every wrong decision is known to be
 * wrong. Pure and deterministic: the same scenario and seed give the same
 * result, so the bench table and the test agree run after run.
 */

/** One kind of route and candidate; rates are fractions 0–1. */
export interface SimulationScenario {
  plan: RolloutPlan
  /** The candidate's true divergence rate. */
  divergenceRate: number
  /** Live requests per second on the route. */
  requestsPerSecond: number
  /** Share of live requests whose pair is compared. */
  shadowShare: number
  candidateErrorRate: number
  baselineErrorRate: number
  baselineP99Ms: number
  candidateP99Ms: number
  /** A rollout still undecided after this long is counted as timed out. */
  limitMs: number
}

export type RolloutEnd = 'reached-100' | 'rolled-back' | 'paused' | 'timed-out'

export interface RolloutOutcome {
  end: RolloutEnd
  /** Simulated time spent on each step left by a promotion (ms). */
  stepDurationsMs: number[]
  /** Simulated time from the first step to the end (ms). */
  durationMs: number
}

export interface SimulationSummary {
  rollouts: number
  rolledBack: number
  paused: number
  timedOut: number
  /** Rollouts promoted past their first step at all. */
  promoted: number
  reachedHundred: number
  /** Median time to reach 100% over the rollouts that did, or undefined. */
  medianTimeToHundredMs: number | undefined
  /** Median time on each step, over the rollouts that reached 100%. */
  medianStepDurationsMs: Array<number | undefined>
  /** Median time to a rollback over the rollouts rolled back, or undefined. */
  medianTimeToRollBackMs: number | undefined
}

/** The route and candidate the bench starts from: 50 req/s, all compared. */
export function describeScenario (plan: RolloutPlan, divergenceRate: number): SimulationScenario {
  return {
    plan,
    divergenceRate,
    requestsPerSecond: 50,
    shadowShare: 1,
    candidateErrorRate: 0.001,
    baselineErrorRate: 0.001,
    baselineP99Ms: 80,
    candidateP99Ms: 90,
    limitMs: 4 * 3_600_000
  }
}

/** Runs `count` rollouts, each seeded from `seed` and its own number. */
export function simulateRollouts (
  scenario: SimulationScenario, count: number, seed: number
): SimulationSummary {
  // Seeds far apart, so neighbouring rollouts share no stretch of numbers.
  const seeds = Array.from({ length: count }, (_, index) => seed + index * 0x9e37)
  const outcomes = seeds.map((rolloutSeed) => simulateRollout(scenario, rolloutSeed))
  const completed = outcomes.filter((outcome) => outcome.end === 'reached-100')
  const rolledBack = outcomes.filter((outcome) => outcome.end === 'rolled-back')

  return {
    rollouts: count,
    rolledBack: rolledBack.length,
    paused: countEnds(outcomes, 'paused'),
    timedOut: countEnds(outcomes, 'timed-out'),
    promoted: outcomes.filter((outcome) => outcome.stepDurationsMs.length > 0).length,
    reachedHundred: completed.length,
    medianTimeToHundredMs: findMedian(completed.map((outcome) => outcome.durationMs)),
    medianStepDurationsMs: findStepMedians(scenario.plan, completed),
    medianTimeToRollBackMs: findMedian(rolledBack.map((outcome) => outcome.durationMs))
  }
}

/**
 * One rollout from the plan's first step, analysed every interval on the
 * figures counted since the step began, until it reaches 100%, is rolled
 * back or paused, or runs out of time.
 */
export function simulateRollout (scenario: SimulationScenario, seed: number): RolloutOutcome {
  const { plan } = scenario
  const random = createRandom(seed)
  let state = startState(plan)
  let window = emptyWindow(scenario)
  const stepDurationsMs: number[] = []

  for (let now = plan.intervalMs; now <= scenario.limitMs; now += plan.intervalMs) {
    window = addInterval(window, drawInterval(scenario, state.percentage, random))
    const decision = decideStep({ plan, state, window, now })
    const ended = { stepDurationsMs, durationMs: now }
    if (decision.kind === 'roll-back') return { end: 'rolled-back', ...ended }
    if (decision.kind === 'pause') return { end: 'paused', ...ended }

    if (decision.kind === 'promote') {
      stepDurationsMs.push(now - state.stepStartedAt)
      if (decision.percentage === 100) return { end: 'reached-100', ...ended }

      const { stepIndex, percentage } = decision
      state = { ...state, stepIndex, percentage, stepStartedAt: now }
      window = emptyWindow(scenario)
    }
    state = { ...state, failingIntervals: decision.failingIntervals }
  }

  return { end: 'timed-out', stepDurationsMs, durationMs: scenario.limitMs }
}

function startState (plan: RolloutPlan): StepState {
  const percentage = plan.steps[0] ?? 100

  return {
    stepIndex: 0,
    percentage,
    stepStartedAt: 0,
    failingIntervals: 0,
    paused: false,
    rolledBack: false,
    automationPaused: false
  }
}

/** Latencies are fixed: the simulation is about rates, not about p99 noise. */
function emptyWindow (scenario: SimulationScenario): StepWindow {
  return {
    comparedPairs: 0,
    divergingPairs: 0,
    candidateRequests: 0,
    candidateErrors: 0,
    baselineRequests: 0,
    baselineErrors: 0,
    candidateFallbacks: 0,
    candidateP99Ms: scenario.candidateP99Ms,
    baselineP99Ms: scenario.baselineP99Ms
  }
}

/**
 * One interval of traffic: a fixed number of live requests split by the
 * percentage, a sample of them compared, and outcomes drawn at the true
 * rates. Every candidate error falls back, as a safe method would.
 */
function drawInterval (
  scenario: SimulationScenario, percentage: number, random: Random
): StepWindow {
  const live = Math.round((scenario.requestsPerSecond * scenario.plan.intervalMs) / 1_000)
  const comparedPairs = sampleBinomial(random, live, scenario.shadowShare)
  const candidateRequests = sampleBinomial(random, live, percentage / 100)
  const baselineRequests = live - candidateRequests
  const candidateErrors = sampleBinomial(random, candidateRequests, scenario.candidateErrorRate)

  return {
    ...emptyWindow(scenario),
    comparedPairs,
    divergingPairs: sampleBinomial(random, comparedPairs, scenario.divergenceRate),
    candidateRequests,
    candidateErrors,
    baselineRequests,
    baselineErrors: sampleBinomial(random, baselineRequests, scenario.baselineErrorRate),
    candidateFallbacks: candidateErrors
  }
}

function addInterval (window: StepWindow, interval: StepWindow): StepWindow {
  return {
    ...window,
    comparedPairs: window.comparedPairs + interval.comparedPairs,
    divergingPairs: window.divergingPairs + interval.divergingPairs,
    candidateRequests: window.candidateRequests + interval.candidateRequests,
    candidateErrors: window.candidateErrors + interval.candidateErrors,
    baselineRequests: window.baselineRequests + interval.baselineRequests,
    baselineErrors: window.baselineErrors + interval.baselineErrors,
    candidateFallbacks: window.candidateFallbacks + interval.candidateFallbacks
  }
}

/** A source of numbers uniform in [0, 1). */
export type Random = () => number

/**
 * A small seeded generator: a Weyl sequence (adding an odd constant) run
 * through an avalanching integer mix. Not for secrets; plenty for drawing
 * traffic, and two seeds that differ by one give unrelated sequences.
 */
export function createRandom (seed: number): Random {
  let state = seed | 0

  return () => {
    state = (state + 0x9e3779b9) | 0
    let mixed = Math.imul(state ^ (state >>> 16), 0x85ebca6b)
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35)
    mixed ^= mixed >>> 16

    return (mixed >>> 0) / 4_294_967_296
  }
}

/**
 * Successes in `trials` at `probability`, exact: jumps from one success to
 * the next by geometric gaps, so the cost follows the number of successes
 * (small here) rather than the number of trials.
 */
export function sampleBinomial (random: Random, trials: number, probability: number): number {
  if (probability <= 0 || trials <= 0) return 0
  if (probability >= 1) return trials

  const logMiss = Math.log1p(-probability)
  let successes = 0
  let position = gapToNext(random, logMiss)
  while (position <= trials) {
    successes++
    position += gapToNext(random, logMiss)
  }

  return successes
}

/** Trials up to the next success; 1 - random() is in (0, 1], so the log is finite. */
function gapToNext (random: Random, logMiss: number): number {
  return Math.floor(Math.log(1 - random()) / logMiss) + 1
}

function countEnds (outcomes: RolloutOutcome[], end: RolloutEnd): number {
  return outcomes.filter((outcome) => outcome.end === end).length
}

function findMedian (values: number[]): number | undefined {
  if (values.length === 0) return undefined

  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const upper = sorted[middle] ?? 0
  if (sorted.length % 2 === 1) return upper

  return ((sorted[middle - 1] ?? 0) + upper) / 2
}

function findStepMedians (
  plan: RolloutPlan, completed: RolloutOutcome[]
): Array<number | undefined> {
  const promotions = plan.steps.length - 1
  const medianOfStep = (step: number): number | undefined =>
    findMedian(completed.map((outcome) => outcome.stepDurationsMs[step] ?? 0))

  return Array.from({ length: promotions }, (_, step) => medianOfStep(step))
}
