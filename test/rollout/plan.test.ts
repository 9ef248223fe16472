import t from 'tap'
import { planSchema } from '../../src/config/plan-schema.js'
import { clampStepIndex, defaultPlan, findNextStep, findRollbackStep, isLastStep } from '../../src/rollout/plan.js'

function expectedMessages (input: unknown): string[] {
  const result = planSchema.safeParse(input)

  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

t.test('an empty plan section gets every default', async (t) => {
  t.same(planSchema.parse({}), {
    steps: [1, 5, 10, 25, 50, 100],
    intervalMs: 10_000,
    minStepMs: 60_000,
    progressDeadlineMs: 2_700_000,
    minComparedPairs: 500,
    minCandidateRequests: 200,
    failingIntervals: 2,
    rollbackTo: 'zero',
    critical: { errorPercent: 5, minCandidateRequests: 20 },
    thresholds: { divergencePercent: 1, errorExcessPoints: 1, fallbackPercent: 2, p99Ratio: 1.5, p99ExcessMs: 25 }
  })
})

t.test('a partial thresholds section keeps the other defaults', async (t) => {
  const plan = planSchema.parse({ thresholds: { divergencePercent: 0.5 } })

  t.equal(plan.thresholds.divergencePercent, 0.5)
  t.equal(plan.thresholds.errorExcessPoints, 1)
  t.equal(plan.critical.errorPercent, 5)
})

t.test('steps must rise, end at 100 and stay in hundredths', async (t) => {
  t.same(expectedMessages({ steps: [5, 1, 100] }), ['steps: step percentages that rise from one step to the next'])
  t.same(expectedMessages({ steps: [1, 50] }), ['steps: a last step of 100'])
  t.same(expectedMessages({ steps: [0, 100] }), ['steps.0: a step percentage above 0, up to 100'])
  t.same(expectedMessages({ steps: [0.001, 100] }), ['steps.0: a step percentage in steps of 0.01'])
  t.same(expectedMessages({ steps: [] }), ['steps: at least one step'])
  t.same(expectedMessages({ steps: [100] }), [], 'a single step of 100 is a plan')
})

t.test('every problem is reported, phrased as what was expected', async (t) => {
  const messages = expectedMessages({
    intervalMs: 0,
    minComparedPairs: 1.5,
    failingIntervals: 0,
    rollbackTo: 'half',
    critical: { errorPercent: 0 },
    thresholds: { p99Ratio: 0.5, divergencePercent: 'one' },
    unknown: true
  })

  t.same(messages.sort(), [
    ': Unrecognized key: "unknown"',
    'critical.errorPercent: a rate in percent, above 0 and up to 100',
    'failingIntervals: at least 1 interval',
    'intervalMs: a number of milliseconds above 0',
    'minComparedPairs: a whole number of samples',
    'rollbackTo: zero or previous-step',
    'thresholds.divergencePercent: a rate in percent, above 0 and up to 100',
    'thresholds.p99Ratio: a latency ratio of 1 or more'
  ])
})

t.test('a deadline that ends before a step could be promoted is refused', async (t) => {
  t.same(expectedMessages({ minStepMs: 60_000, intervalMs: 10_000, progressDeadlineMs: 70_000 }), [
    'progressDeadlineMs: a progress deadline above minStepMs + intervalMs (70000 ms)'
  ])
  t.same(expectedMessages({ minStepMs: 60_000, intervalMs: 10_000, progressDeadlineMs: 70_001 }), [])
})

t.test('the default plan is frozen all the way down', async (t) => {
  t.ok(Object.isFrozen(defaultPlan))
  t.ok(Object.isFrozen(defaultPlan.steps))
  t.ok(Object.isFrozen(defaultPlan.thresholds))
  t.ok(Object.isFrozen(defaultPlan.critical))
})

t.test('the next step follows the plan and ends at the last one', async (t) => {
  t.same(findNextStep(defaultPlan, 0), { stepIndex: 1, percentage: 5 })
  t.same(findNextStep(defaultPlan, 4), { stepIndex: 5, percentage: 100 })
  t.equal(findNextStep(defaultPlan, 5), undefined)
  t.ok(isLastStep(defaultPlan, 5))
  t.notOk(isLastStep(defaultPlan, 4))
})

t.test('stored step indexes outside the plan are read as its first or last step', async (t) => {
  t.equal(clampStepIndex(defaultPlan, 12), 5)
  t.equal(clampStepIndex(defaultPlan, -3), 0)
  t.equal(findNextStep(defaultPlan, 12), undefined)
})

t.test('a rollback goes to zero or to the previous step', async (t) => {
  const previousStepPlan = planSchema.parse({ rollbackTo: 'previous-step' })

  t.same(findRollbackStep(defaultPlan, 3, false), { target: 'zero', stepIndex: 0, percentage: 0 })
  t.same(findRollbackStep(previousStepPlan, 3, false), { target: 'previous-step', stepIndex: 2, percentage: 10 })
  t.same(findRollbackStep(previousStepPlan, 0, false), { target: 'zero', stepIndex: 0, percentage: 0 }, 'before the first step is zero')
  t.same(findRollbackStep(previousStepPlan, 3, true), { target: 'zero', stepIndex: 0, percentage: 0 }, 'unless told to go to zero')
})
