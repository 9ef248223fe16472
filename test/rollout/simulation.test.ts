import t from 'tap'
import { defaultPlan } from '../../src/rollout/plan.js'
import { createRandom, describeScenario, sampleBinomial, simulateRollout, simulateRollouts } from '../../src/rollout/simulation.js'

// A reduced run of bench/rollout-simulation.ts: 200 seeded rollouts per
// candidate instead of 1,000. Seeded, so the figures are the same on every
// run; the bench prints the full table.
const rollouts = 200
const seed = 0x5eed

t.test('the defaults roll back no healthy candidate and promote no bad one', async (t) => {
  const healthy = simulateRollouts(describeScenario(defaultPlan, 0.005), rollouts, seed)
  const bad = simulateRollouts(describeScenario(defaultPlan, 0.02), rollouts, seed)

  t.ok(healthy.rolledBack / rollouts <= 0.01, `false rollback rate ${healthy.rolledBack} of ${rollouts}`)
  t.ok(bad.promoted / rollouts <= 0.01, `false promotion rate ${bad.promoted} of ${rollouts}`)
  t.equal(bad.rolledBack, rollouts, 'every bad candidate is rolled back')
  // The rest pause at a deadline: an unlucky run of candidate errors on the
  // 1% step keeps its error-rate bound open, and people are asked.
  t.ok(healthy.reachedHundred / rollouts >= 0.99, `${healthy.reachedHundred} of ${rollouts} healthy reach 100%`)
  t.equal(healthy.reachedHundred + healthy.paused, rollouts)
})

t.test('a clean candidate at 50 req/s reaches 100% in about 18 simulated minutes', async (t) => {
  const clean = simulateRollouts(describeScenario(defaultPlan, 0), rollouts, seed)
  const minutes = (clean.medianTimeToHundredMs ?? Infinity) / 60_000

  t.equal(clean.reachedHundred, rollouts)
  t.ok(minutes > 15 && minutes < 22, `median ${minutes.toFixed(1)} min`)
  t.equal(clean.medianStepDurationsMs.length, defaultPlan.steps.length - 1)
  t.ok((clean.medianStepDurationsMs[0] ?? 0) > 10 * 60_000, 'most of it on the 1% step, bounding the error rate')
})

t.test('the simulation tells a careless plan from a careful one', async (t) => {
  const careless = { ...defaultPlan, minComparedPairs: 20, failingIntervals: 1 }
  const fewPairs = { shadowShare: 0.1 }
  const carelessRun = simulateRollouts({ ...describeScenario(careless, 0.005), ...fewPairs }, rollouts, seed)
  const carefulRun = simulateRollouts({ ...describeScenario(defaultPlan, 0.005), ...fewPairs }, rollouts, seed)

  t.ok(carelessRun.rolledBack / rollouts > 0.02, `careless: ${carelessRun.rolledBack} of ${rollouts} healthy rolled back`)
  t.ok(carefulRun.rolledBack / rollouts <= 0.01, `defaults: ${carefulRun.rolledBack} of ${rollouts} healthy rolled back`)
})

t.test('the same seed gives the same rollout, another seed another', async (t) => {
  const scenario = describeScenario(defaultPlan, 0.005)

  t.same(simulateRollout(scenario, 7), simulateRollout(scenario, 7))
  t.not(simulateRollout(scenario, 7).durationMs, simulateRollout(scenario, 8).durationMs)
})

t.test('a rollout that cannot decide in time is counted as timed out', async (t) => {
  const outcome = simulateRollout({ ...describeScenario(defaultPlan, 0), requestsPerSecond: 1, limitMs: 600_000 }, seed)

  t.equal(outcome.end, 'timed-out')
  t.equal(outcome.durationMs, 600_000)
})

t.test('a step left undecided past its deadline ends the rollout paused', async (t) => {
  const summary = simulateRollouts({ ...describeScenario(defaultPlan, 0), requestsPerSecond: 2 }, 5, seed)

  t.equal(summary.paused, 5)
  t.equal(summary.medianTimeToHundredMs, undefined)
})

t.test('binomial draws have the right mean and edges', async (t) => {
  const random = createRandom(seed)
  let total = 0
  for (let draw = 0; draw < 2_000; draw++) total += sampleBinomial(random, 500, 0.02)

  const mean = total / 2_000
  t.ok(Math.abs(mean - 10) < 0.3, `mean ${mean} of binomial(500, 0.02)`)
  t.equal(sampleBinomial(random, 500, 0), 0)
  t.equal(sampleBinomial(random, 500, 1), 500)
  t.equal(sampleBinomial(random, 0, 0.5), 0)
})

t.test('the generator stays in [0, 1)', async (t) => {
  const random = createRandom(0)
  const draws = Array.from({ length: 10_000 }, random)

  t.ok(draws.every((value) => value >= 0 && value < 1))
  t.ok(Math.abs(draws.reduce((sum, value) => sum + value, 0) / draws.length - 0.5) < 0.02, 'centred on a half')
})
