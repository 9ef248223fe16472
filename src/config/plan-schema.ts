import { z } from 'zod'

/*
 * A route's rollout plan (its `plan:` section): the steps, how often and on
 * how much evidence the analysis decides, and the thresholds it holds the
 * candidate to. Rates are written in percent and points, as people say them;
 * the decision rule turns them into fractions.
 *
 * The defaults are tuned with the seeded simulation in
 * bench/rollout-simulation.ts (1,000 rollouts per figure, 50 req/s, 10 s
 * intervals). With every request compared, no healthy candidate (true
 * divergence at half the threshold) was rolled back and no bad one (twice
 * the threshold) promoted; with a tenth compared, 0.1% and 0%. A clean
 * candidate takes a median 18.5 min to 100%, 12 of them on the 1% step.
 *
 * Every custom message below is phrased as what was *expected*, as in
 * schema.ts.
 */

const stepPercentage = z.number({ error: 'a step percentage above 0, up to 100' })
  .gt(0, 'a step percentage above 0, up to 100')
  .max(100, 'a step percentage above 0, up to 100')
  .refine((value) => value <= 0 || value > 100 || isHundredth(value), 'a step percentage in steps of 0.01')

const positiveMs = z.number({ error: 'a number of milliseconds' })
  .int('a whole number of milliseconds')
  .positive('a number of milliseconds above 0')

const sampleCount = z.number({ error: 'a number of samples' })
  .int('a whole number of samples')
  .min(1, 'at least 1 sample')

const ratePercent = z.number({ error: 'a rate in percent, above 0 and up to 100' })
  .gt(0, 'a rate in percent, above 0 and up to 100')
  .max(100, 'a rate in percent, above 0 and up to 100')

const thresholdsSchema = z.strictObject({
  /**
   * Highest divergence rate (diverging pairs over compared pairs, noise
   * already removed) the candidate may show, in percent. Default 1: a
   * field-for-field rewrite should agree on 99 answers in 100 once noise is
   * gone, and 1% is still measurable in a few minutes at modest traffic.
   */
  divergencePercent: ratePercent.default(1),
  /**
   * How far the candidate's error rate may exceed the baseline's, in
   * percentage points. Default 1: measured against the baseline so that an
   * endpoint that fails on both sides is not the candidate's fault.
   */
  errorExcessPoints: z.number({ error: 'a number of percentage points from 0 to 100' })
    .min(0, 'a number of percentage points from 0 to 100')
    .max(100, 'a number of percentage points from 0 to 100')
    .default(1),
  /**
   * Highest share of the candidate's live requests that went down the
   * fallback chain (to the baseline or fallback content), in percent.
   * Default 2 (arbitrary): twice the error allowance, because a fallback is
   * hidden from the user and costs a round trip, not an error. A baseline
   * that itself fails often needs a looser value here.
   */
  fallbackPercent: ratePercent.default(2),
  /**
   * The candidate's p99 latency may reach the baseline's p99 times this.
   * Default 1.5. Set 1 to judge latency by `p99ExcessMs` alone.
   */
  p99Ratio: z.number({ error: 'a latency ratio of 1 or more' })
    .min(1, 'a latency ratio of 1 or more')
    .default(1.5),
  /**
   * ...or the baseline's p99 plus this many milliseconds, whichever allows
   * more. Default 25 (arbitrary): on a fast route, 4 ms against 7 ms is a
   * ratio far over 1.5 that no user notices. Set 0 to judge by the ratio
   * alone.
   */
  p99ExcessMs: z.number({ error: 'a number of milliseconds' })
    .min(0, 'a number of milliseconds from 0').default(25)
})

const criticalSchema = z.strictObject({
  /**
   * A candidate error rate whose lower confidence bound exceeds this
   * (percent) rolls the route back at once, without waiting for the
   * failing intervals. Default 5: far above any healthy candidate's rate,
   * so reaching it with confidence is an outage, not noise.
   */
  errorPercent: ratePercent.default(5),
  /**
   * Live candidate requests needed before the critical check is judged.
   * Default 20: one error in the first request has a lower bound near 21%,
   * and one unlucky request must not undo a rollout; 3 errors in 20 do.
   */
  minCandidateRequests: sampleCount.default(20)
})

export const planSchema = z.strictObject({
  /**
   * The candidate's percentage at each step, rising, ending at 100.
   * Default 1, 5, 10, 25, 50, 100: a small first step limits the harm of a
   * candidate that is broken outright, later steps grow about twofold.
   */
  steps: z.array(stepPercentage, { error: 'a list of step percentages' })
    .min(1, 'at least one step')
    .refine(isRising, 'step percentages that rise from one step to the next')
    .refine(endsAtHundred, 'a last step of 100')
    .default([1, 5, 10, 25, 50, 100]),
  /**
   * How often the analysis runs. Default 10 s: the live counters reach
   * Redis about once a second, and a shorter wait means a quicker rollback.
   */
  intervalMs: positiveMs.default(10_000),
  /**
   * Least time on a step before a promotion. Default 60 s: a step must see
   * a few intervals of traffic (and the candidate warm up at its new load)
   * before the evidence stands for the step. It binds only on the 25% and
   * 50% steps at 50 req/s, and costs about 1 min to 100% against 10 s.
   */
  minStepMs: positiveMs.default(60_000),
  /**
   * Time a step may go without a promotion or rollback before the route is
   * paused and people are notified. Default 45 min: at 50 req/s the 1%
   * step gets half a live request a second and needs 12 to 30 min to bound
   * the candidate's error rate; at 30 min the simulation paused about 1 clean
   * rollout in 80 there, at 45 min none. Quieter routes pause on purpose.
   */
  progressDeadlineMs: positiveMs.default(2_700_000),
  /**
   * Compared pairs needed on a step before its divergence is judged.
   * Default 500: with 50 pairs an interval, 100 rolled back 1.6% of healthy
   * candidates in the simulation (repeated looks at small counts), 500
   * rolled back 0.1% and costs about a minute to 100%.
   */
  minComparedPairs: sampleCount.default(500),
  /**
   * Live candidate requests (and baseline requests) needed on a step before
   * its error, fallback and latency checks are judged. Default 200: a p99
   * then rests on its two slowest requests rather than on the single
   * slowest. Promotion usually waits longer anyway: bounding the error rate
   * within 1 point takes about 400 requests.
   */
  minCandidateRequests: sampleCount.default(200),
  /**
   * Consecutive failing analyses before a rollback. Default 2: one
   * interval's failure can be a burst the next interval clears. With 50
   * pairs an interval, 1 rolled back 0.3% of healthy candidates in the
   * simulation and 2 rolled back 0.1%; the second costs one interval.
   */
  failingIntervals: z.number({ error: 'a number of intervals' })
    .int('a whole number of intervals')
    .min(1, 'at least 1 interval')
    .default(2),
  /**
   * Where a rollback sends the route: `zero` (the baseline serves every
   * request) or `previous-step`. Default zero: a rollback means something
   * is wrong, and the smaller share is still exposed to it.
   */
  rollbackTo: z.enum(['zero', 'previous-step'], { error: 'zero or previous-step' })
    .default('zero'),
  critical: criticalSchema.prefault({}),
  thresholds: thresholdsSchema.prefault({})
}).superRefine(checkDeadline)

export type PlanConfig = z.output<typeof planSchema>
export type PlanThresholds = PlanConfig['thresholds']

function isHundredth (value: number): boolean {
  return Math.abs(value * 100 - Math.round(value * 100)) < 1e-9
}

function isRising (steps: number[]): boolean {
  return steps.every((step, index) => index === 0 || step > (steps[index - 1] ?? 0))
}

/** An empty list is left to its own message, not reported twice. */
function endsAtHundred (steps: number[]): boolean {
  return steps.length === 0 || steps.at(-1) === 100
}

/**
 * A deadline that ends before the minimum time on a step (and one interval
 * to look at it) would pause every step before it could be promoted.
 */
function checkDeadline (
  plan: { intervalMs: number, minStepMs: number, progressDeadlineMs: number },
  ctx: z.RefinementCtx
): void {
  const earliestPromotionMs = plan.minStepMs + plan.intervalMs
  if (plan.progressDeadlineMs > earliestPromotionMs) return

  ctx.addIssue({
    code: 'custom',
    path: ['progressDeadlineMs'],
    input: plan.progressDeadlineMs,
    message: `a progress deadline above minStepMs + intervalMs (${earliestPromotionMs} ms)`
  })
}
