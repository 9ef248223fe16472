import t from 'tap'
import { planSchema } from '../../src/config/plan-schema.js'
import { decideStep, type Decision, type RateCheck, type StepState, type StepWindow } from '../../src/rollout/decision-rule.js'
import { defaultPlan, type RolloutPlan } from '../../src/rollout/plan.js'

const startedAt = 1_700_000_000_000
const afterMinStepMs = 120_000

function stateOn (stepIndex: number, overrides: Partial<StepState> = {}, plan: RolloutPlan = defaultPlan): StepState {
  const percentage = plan.steps[stepIndex] ?? 0

  const flags = { paused: false, rolledBack: false, automationPaused: false }

  return { stepIndex, percentage, stepStartedAt: startedAt, failingIntervals: 0, ...flags, ...overrides }
}

/** Plenty of evidence that the candidate answers like the baseline. */
function goodWindow (overrides: Partial<StepWindow> = {}): StepWindow {
  return {
    comparedPairs: 2_000,
    divergingPairs: 0,
    candidateRequests: 1_000,
    candidateErrors: 1,
    baselineRequests: 20_000,
    baselineErrors: 20,
    candidateFallbacks: 1,
    candidateP99Ms: 90,
    baselineP99Ms: 80,
    ...overrides
  }
}

function decide (state: StepState, window: StepWindow, afterMs = afterMinStepMs, plan: RolloutPlan = defaultPlan): Decision {
  return decideStep({ plan, state, window, now: state.stepStartedAt + afterMs })
}

function findRateCheck (decision: Decision, name: RateCheck['name']): RateCheck {
  const check = [...decision.analysis.checks, decision.analysis.critical].find((candidate) => candidate.name === name)
  if (check === undefined || check.name === 'latency') throw new Error(`no ${name} check`)

  return check
}

/** 50 req/s split by the percentage, every request compared, no fault. */
function cleanTraffic (elapsedMs: number, percentage: number): StepWindow {
  const live = Math.round((50 * elapsedMs) / 1_000)
  const candidateRequests = Math.round((live * percentage) / 100)

  return goodWindow({
    comparedPairs: live,
    candidateRequests,
    candidateErrors: 0,
    candidateFallbacks: 0,
    baselineRequests: live - candidateRequests,
    baselineErrors: 0
  })
}

t.test('a clean candidate ramps through every step to 100%, then completes', async (t) => {
  let state = stateOn(0)
  const percentages = [state.percentage]
  let last: Decision | undefined

  for (let now = startedAt + defaultPlan.intervalMs; now < startedAt + 3_600_000; now += defaultPlan.intervalMs) {
    last = decideStep({ plan: defaultPlan, state, window: cleanTraffic(now - state.stepStartedAt, state.percentage), now })
    if (last.kind !== 'hold' && last.kind !== 'promote') break

    if (last.kind === 'promote') {
      percentages.push(last.percentage)
      state = { ...state, stepIndex: last.stepIndex, percentage: last.percentage, stepStartedAt: now }
    }
  }

  t.same(percentages, [1, 5, 10, 25, 50, 100])
  t.equal(last?.kind, 'complete')
  t.match(last?.reason, /complete: the candidate serves 100%/)
})

t.test('3% divergence against a 1% threshold is rolled back at the first step with enough samples', async (t) => {
  const state = stateOn(0)
  const intervals = [300, 600, 900].map((pairs) => goodWindow({ comparedPairs: pairs, divergingPairs: Math.round(pairs * 0.03) }))

  const first = decide(state, intervals[0]!, 10_000)
  t.equal(first.kind, 'hold', '300 pairs are too few to judge')
  t.equal(first.failingIntervals, 0)
  t.equal(findRateCheck(first, 'divergence').outcome, 'too-few-samples')

  const second = decide({ ...state, failingIntervals: first.failingIntervals }, intervals[1]!, 20_000)
  t.equal(second.kind, 'hold', 'one failing interval is not yet enough')
  t.equal(second.failingIntervals, 1)
  t.match(second.reason, /1 of 2 failing intervals: divergence 3% lower bound 1\.\d+% over 1%/)

  const third = decide({ ...state, failingIntervals: second.failingIntervals }, intervals[2]!, 30_000)
  t.equal(third.kind, 'roll-back')
  if (third.kind !== 'roll-back') return
  t.equal(third.percentage, 0)
  t.equal(third.target, 'zero')
  t.equal(third.critical, false)
  t.same(third.failedChecks, ['divergence'])
  t.equal(third.failingIntervals, 2)
  t.match(third.reason, /rolling back from 1% to 0% after 2 failing intervals: divergence 3%/)
})

t.test('0.4% divergence is promoted once its upper bound is under 1%', async (t) => {
  const early = decide(stateOn(1), goodWindow({ comparedPairs: 500, divergingPairs: 2 }))
  t.equal(early.kind, 'hold', 'the point estimate alone is under the threshold, the bound is not')
  t.match(early.reason, /divergence 0\.4% upper bound 1\.45% not yet under 1%/)
  t.equal(findRateCheck(early, 'divergence').outcome, 'inconclusive')

  const later = decide(stateOn(1), goodWindow({ comparedPairs: 2_000, divergingPairs: 8 }))
  t.equal(later.kind, 'promote')
  if (later.kind !== 'promote') return
  t.equal(later.stepIndex, 2)
  t.equal(later.percentage, 10)
  t.match(later.reason, /promoting from 5% to 10%: every check passed on 2000 compared pairs and 1000 candidate requests/)
})

t.test('too few samples hold, and the reason names the counts', async (t) => {
  const decision = decide(stateOn(2), goodWindow({ comparedPairs: 140, candidateRequests: 80, candidateErrors: 0, candidateFallbacks: 0 }))

  t.equal(decision.kind, 'hold')
  t.match(decision.reason, /^holding: /)
  t.match(decision.reason, /140 of 500 compared pairs/)
  t.match(decision.reason, /80 of 200 candidate requests/)
})

t.test('low traffic is never read as failing: a bad rate on few pairs only holds', async (t) => {
  const decision = decide(stateOn(0, { failingIntervals: 1 }), goodWindow({ comparedPairs: 50, divergingPairs: 25 }))

  t.equal(decision.kind, 'hold')
  t.equal(decision.failingIntervals, 0)
  t.equal(findRateCheck(decision, 'divergence').outcome, 'too-few-samples')
  t.match(decision.reason, /50 of 500 compared pairs/)
})

t.test('a step holds until its minimum time has passed', async (t) => {
  const decision = decide(stateOn(3), goodWindow(), 20_000)

  t.equal(decision.kind, 'hold')
  t.match(decision.reason, /holding: minimum time on step, 40 s left/)
  t.equal(decide(stateOn(3), goodWindow(), 60_000).kind, 'promote', 'and promotes once it has')
})

t.test('a critical candidate error rate rolls back in one interval, to zero whatever the plan says', async (t) => {
  const plan = planSchema.parse({ rollbackTo: 'previous-step' })
  const outage = goodWindow({ candidateRequests: 40, candidateErrors: 12, candidateFallbacks: 12 })
  const decision = decide(stateOn(2, {}, plan), outage, 10_000, plan)

  t.equal(decision.kind, 'roll-back')
  if (decision.kind !== 'roll-back') return
  t.equal(decision.critical, true)
  t.equal(decision.target, 'zero')
  t.equal(decision.percentage, 0)
  t.same(decision.failedChecks, ['critical-error-rate'], 'the rate checks were not judged on 40 requests')
  t.match(decision.reason, /rolling back from 10% to 0% at once: candidate error rate 30% lower bound \d+(\.\d+)?% over 5%/)
})

t.test('one error on the first candidate request is not critical', async (t) => {
  const decision = decide(stateOn(0), goodWindow({ candidateRequests: 1, candidateErrors: 1, candidateFallbacks: 1 }), 10_000)

  t.equal(decision.kind, 'hold')
  t.equal(findRateCheck(decision, 'critical-error-rate').outcome, 'too-few-samples')
})

t.test('a critical breach lists every other failing check too', async (t) => {
  const decision = decide(stateOn(1), goodWindow({ candidateErrors: 100, candidateFallbacks: 100 }))

  t.equal(decision.kind, 'roll-back')
  if (decision.kind !== 'roll-back') return
  t.same(decision.failedChecks, ['critical-error-rate', 'error-rate', 'fallback-rate'])
})

t.test('rollback target: zero by default, the previous step when the plan says so', async (t) => {
  const failing = goodWindow({ divergingPairs: 100 })
  const zero = decide(stateOn(3, { failingIntervals: 1 }), failing)
  t.equal(zero.kind, 'roll-back')
  if (zero.kind !== 'roll-back') return
  t.equal(zero.target, 'zero')
  t.equal(zero.percentage, 0)
  t.equal(zero.stepIndex, 0)

  const plan = planSchema.parse({ rollbackTo: 'previous-step' })
  const previous = decide(stateOn(3, { failingIntervals: 1 }, plan), failing, afterMinStepMs, plan)
  t.equal(previous.kind, 'roll-back')
  if (previous.kind !== 'roll-back') return
  t.equal(previous.target, 'previous-step')
  t.equal(previous.percentage, 10)
  t.equal(previous.stepIndex, 2)
  t.match(previous.reason, /rolling back from 25% to 10%/)

  const fromFirst = decide(stateOn(0, { failingIntervals: 1 }, plan), failing, afterMinStepMs, plan)
  t.equal(fromFirst.kind === 'roll-back' && fromFirst.target, 'zero', 'the step before the first is zero')

  const again = decide(stateOn(2, { failingIntervals: 1, rolledBack: true }, plan), failing, afterMinStepMs, plan)
  t.equal(again.kind === 'roll-back' && again.target, 'zero', 'a step already rolled back to goes to zero when it fails too')
})

t.test('past the progress deadline without a decision the route is paused', async (t) => {
  const undecided = goodWindow({ candidateRequests: 120, candidateErrors: 0, candidateFallbacks: 0 })
  const deadline = defaultPlan.progressDeadlineMs

  t.equal(decide(stateOn(0), undecided, deadline - 1).kind, 'hold', 'before the deadline it holds')

  const decision = decide(stateOn(0), undecided, deadline)
  t.equal(decision.kind, 'pause')
  t.match(decision.reason, /pausing: no decision within 45 min on step 1 \(1%\): 120 of 200 candidate requests/)

  t.equal(decide(stateOn(0, { paused: true }), undecided, deadline).kind, 'hold', 'a paused route is not paused again')
  t.equal(decide(stateOn(0, { automationPaused: true }), undecided, deadline).kind, 'hold', 'nor one under an operator stop')
  t.equal(decide(stateOn(0), goodWindow(), deadline * 2).kind, 'promote', 'a decided step promotes even late')
})

t.test('a paused route never promotes, but a failing check still rolls it back', async (t) => {
  const paused = stateOn(2, { paused: true })
  const held = decide(paused, goodWindow())
  t.equal(held.kind, 'hold')
  t.match(held.reason, /^paused, waiting for a person to resume/, 'what it waits for comes first, not "holding: paused"')
  t.notMatch(held.reason, /minimum time on step/, 'the step timer means nothing while paused')
  const early = decide(paused, goodWindow({ comparedPairs: 10 }), 0)
  t.match(early.reason, /^paused, waiting for a person to resume \(meanwhile: 10 of \d+ compared pairs/, 'the figures follow, as what the step has meanwhile')
  t.equal(findRateCheck(held, 'divergence').outcome, 'pass', 'every check passed, yet no promotion')

  const failing = goodWindow({ divergingPairs: 100 })
  const first = decide(paused, failing)
  t.equal(first.kind, 'hold')
  t.equal(first.failingIntervals, 1)
  const second = decide({ ...paused, failingIntervals: 1 }, failing)
  t.equal(second.kind, 'roll-back', 'the failing intervals roll it back while paused')

  const critical = decide(paused, goodWindow({ candidateErrors: 300, candidateFallbacks: 300 }))
  t.equal(critical.kind === 'roll-back' && critical.critical, true, 'and so does a critical breach')
})

t.test('under an operator stop a route never promotes, but still rolls back', async (t) => {
  const stopped = stateOn(1, { automationPaused: true })
  const held = decide(stopped, goodWindow())
  t.equal(held.kind, 'hold')
  t.match(held.reason, /automation paused by an operator/)

  t.equal(decide({ ...stopped, failingIntervals: 1 }, goodWindow({ divergingPairs: 100 })).kind, 'roll-back')
})

t.test('a route rolled back to an earlier step holds there until a person retries', async (t) => {
  const decision = decide(stateOn(1, { rolledBack: true }), goodWindow())

  t.equal(decision.kind, 'hold')
  t.match(decision.reason, /rolled back to 5%, waiting for a person to retry/)
})

t.test('at 0% nothing is analysed for a decision', async (t) => {
  const rolledBack = decide({ ...stateOn(0, { rolledBack: true }), percentage: 0 }, goodWindow({ divergingPairs: 500 }))
  t.equal(rolledBack.kind, 'hold')
  t.equal(rolledBack.failingIntervals, 0)
  t.match(rolledBack.reason, /holding at 0%: rolled back, waiting for a person to retry/)

  const notStarted = decide({ ...stateOn(0), percentage: 0 }, goodWindow())
  t.match(notStarted.reason, /holding at 0%: waiting for a person to start the plan/)
})

t.test('a passing analysis resets the count of failing intervals', async (t) => {
  const decision = decide(stateOn(1, { failingIntervals: 1 }), goodWindow())

  t.equal(decision.kind, 'promote')
  t.equal(decision.failingIntervals, 0)
})

t.test('the error rate is judged against the baseline\'s', async (t) => {
  const worse = decide(stateOn(1, { failingIntervals: 1 }), goodWindow({ candidateErrors: 30 }))
  t.equal(findRateCheck(worse, 'error-rate').outcome, 'fail', '3% against 0.1% is over 1 point')
  t.equal(worse.kind === 'roll-back' && worse.failedChecks.join(), 'error-rate')
  t.match(worse.reason, /error rate excess 2\.9 points lower bound [\d.]+ points over 1 point/)

  const bothFailing = goodWindow({ candidateRequests: 10_000, candidateErrors: 420, candidateFallbacks: 20, baselineErrors: 800 })
  const alike = decide(stateOn(1), bothFailing)
  t.equal(findRateCheck(alike, 'error-rate').outcome, 'pass', '4.2% against 4% is within 1 point')
  t.equal(alike.kind, 'promote')
})

t.test('the fallback rate has its own threshold', async (t) => {
  const decision = decide(stateOn(1), goodWindow({ candidateFallbacks: 50 }))

  t.equal(findRateCheck(decision, 'fallback-rate').outcome, 'fail')
  t.equal(findRateCheck(decision, 'error-rate').outcome, 'pass')
  t.equal(decision.kind, 'hold')
  t.match(decision.reason, /1 of 2 failing intervals: fallback rate 5% lower bound/)
})

t.test('latency fails past the larger of the ratio and the absolute allowance', async (t) => {
  const slow = decide(stateOn(1), goodWindow({ candidateP99Ms: 200, baselineP99Ms: 80 }))
  const latency = slow.analysis.checks.find((check) => check.name === 'latency')
  t.match(latency, { outcome: 'fail', allowedP99Ms: 120, candidateP99Ms: 200 })
  t.match(slow.reason, /latency p99 200 ms over the allowed 120 ms/)

  const fast = decide(stateOn(1), goodWindow({ candidateP99Ms: 7, baselineP99Ms: 4 }))
  t.match(fast.analysis.checks.find((check) => check.name === 'latency'), { outcome: 'pass', allowedP99Ms: 29 })
  t.equal(fast.kind, 'promote', '4 ms against 7 ms is a large ratio nobody notices')

  const quiet = decide(stateOn(0), goodWindow({ candidateRequests: 100, candidateErrors: 0, candidateFallbacks: 0, candidateP99Ms: 900 }))
  t.match(quiet.analysis.checks.find((check) => check.name === 'latency'), { outcome: 'too-few-samples' })
  t.equal(quiet.failingIntervals, 0)
})

t.test('every decision carries the figures and thresholds it used', async (t) => {
  const window = goodWindow({ comparedPairs: 2_000, divergingPairs: 8 })
  const decision = decide(stateOn(1), window)
  const divergence = findRateCheck(decision, 'divergence')

  t.same(decision.analysis.window, window)
  t.match(decision.analysis, {
    analyzedAt: startedAt + afterMinStepMs,
    stepIndex: 1,
    percentage: 5,
    timeOnStepMs: afterMinStepMs,
    minStepMs: 60_000
  })
  t.match(divergence, { outcome: 'pass', estimate: 0.004, threshold: 0.01, samples: 2_000, minSamples: 500 })
  t.ok(divergence.lower < 0.004 && divergence.upper > 0.004 && divergence.upper < 0.01, 'with both bounds')
  t.same(decision.analysis.checks.map((check) => check.name), ['divergence', 'error-rate', 'fallback-rate', 'latency'])
  t.same(JSON.parse(JSON.stringify(decision)), decision, 'and can be stored as JSON as it is')
})

t.test('counts that ran ahead of their totals are capped, not thrown on', async (t) => {
  const decision = decide(stateOn(1), goodWindow({ comparedPairs: 600, divergingPairs: 601 }))

  t.equal(decision.analysis.window.divergingPairs, 600)
  t.equal(findRateCheck(decision, 'divergence').estimate, 1)
})

t.test('a route on the last step completes, or rolls back when a check fails', async (t) => {
  const last = defaultPlan.steps.length - 1
  t.equal(decide(stateOn(last), goodWindow()).kind, 'complete')

  const watched = decide(stateOn(last), goodWindow({ divergingPairs: 100 }))
  t.equal(watched.kind, 'complete')
  t.equal(watched.failingIntervals, 1)
  t.match(watched.reason, /complete: the candidate serves 100%; 1 of 2 failing intervals: divergence/)

  t.equal(decide(stateOn(last, { failingIntervals: 1 }), goodWindow({ divergingPairs: 100 })).kind, 'roll-back')
  const beyond = decide({ ...stateOn(last), stepIndex: 9 }, goodWindow())
  t.equal(beyond.kind, 'complete', 'a step beyond a shortened plan reads as its last')
})
