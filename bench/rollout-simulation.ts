/*
 * How often the decision rule is wrong, and what being careful costs.
 *
 *   node --import tsx bench/rollout-simulation.ts [rollouts]
 *
 * For each plan variant and amount of compared traffic, 1,000 seeded
 * rollouts (by default) of three candidates against a 1% divergence
 * threshold:
 * - healthy, true divergence 0.5% (half the threshold): a rollback is a
 *   false rollback;
 * - bad, true divergence 2% (twice the threshold): any promotion past the
 *   first step is a false promotion (stricter than reaching 100%);
 * - clean, no divergence: the median simulated time to reach 100%.
 * The route takes 50 req/s; errors run at 0.1% on both backends and p99s
 * at 90 against 80 ms, so divergence and sample sizes decide. Times are
 * simulated, not measured: the tables are the same on every machine.
 */
import { defaultPlan, type RolloutPlan } from '../src/rollout/plan.js'
import { describeScenario, simulateRollouts, type SimulationSummary } from '../src/rollout/simulation.js'

interface Variant {
  label: string
  plan: Partial<RolloutPlan>
}

interface Row {
  healthy: SimulationSummary
  bad: SimulationSummary
  clean: SimulationSummary
}

const rollouts = Number(process.argv[2] ?? 1_000)
const seed = 0x5eed
const pairsPerInterval = [500, 50]

const variants: Variant[] = [
  { label: 'defaults', plan: {} },
  { label: 'failingIntervals 1', plan: { failingIntervals: 1 } },
  { label: 'failingIntervals 3', plan: { failingIntervals: 3 } },
  { label: 'minComparedPairs 100', plan: { minComparedPairs: 100 } },
  { label: 'minComparedPairs 100, failingIntervals 1', plan: { minComparedPairs: 100, failingIntervals: 1 } },
  { label: 'minComparedPairs 2000', plan: { minComparedPairs: 2_000 } },
  { label: 'minStepMs 10 s', plan: { minStepMs: 10_000 } },
  { label: 'minCandidateRequests 50', plan: { minCandidateRequests: 50 } },
  { label: 'progressDeadlineMs 30 min', plan: { progressDeadlineMs: 1_800_000 } }
]

printLegend()
const columns = ['plan', 'pairs', 'false rb', 'false pr', 'bad rb', 'rb min', 't100 cln', 't100 hl', 'stuck cl', 'stuck hl']
printLine(columns)
let defaults: Row | undefined
for (const pairs of pairsPerInterval) {
  for (const variant of variants) {
    const row = simulateRow({ ...defaultPlan, ...variant.plan }, pairs)
    defaults ??= row
    printLine(describeRow(variant.label, pairs, row))
  }
}

console.log()
console.log('where the time goes (defaults, 500 compared pairs per interval): median minutes on each step')
printLine(['candidate', ...defaultPlan.steps.slice(0, -1).map((step) => `${step}%`)])
printLine(['clean', ...(defaults?.clean.medianStepDurationsMs ?? []).map(formatMinutes)])
printLine(['healthy', ...(defaults?.healthy.medianStepDurationsMs ?? []).map(formatMinutes)])

function simulateRow (plan: RolloutPlan, pairs: number): Row {
  return {
    healthy: simulate(plan, 0.005, pairs),
    bad: simulate(plan, 0.02, pairs),
    clean: simulate(plan, 0, pairs)
  }
}

function simulate (plan: RolloutPlan, divergenceRate: number, pairs: number): SimulationSummary {
  const scenario = describeScenario(plan, divergenceRate)
  const live = (scenario.requestsPerSecond * plan.intervalMs) / 1_000

  return simulateRollouts({ ...scenario, shadowShare: pairs / live }, rollouts, seed)
}

function describeRow (label: string, pairs: number, row: Row): string[] {

  return [
    label,
    String(pairs),
    formatShare(row.healthy.rolledBack),
    formatShare(row.bad.promoted),
    formatShare(row.bad.rolledBack),
    formatMinutes(row.bad.medianTimeToRollBackMs),
    formatMinutes(row.clean.medianTimeToHundredMs),
    formatMinutes(row.healthy.medianTimeToHundredMs),
    formatShare(row.clean.paused + row.clean.timedOut),
    formatShare(row.healthy.paused + row.healthy.timedOut)
  ]
}

function printLegend (): void {
  console.log(`${rollouts} seeded rollouts per cell; 50 req/s; 10 s intervals; divergence threshold 1%`)
  console.log('pairs: compared pairs per interval; false rb: healthy (0.5%) rolled back; false pr: bad (2%)')
  console.log('promoted at all; bad rb: bad rolled back; rb min: median minutes to that rollback;')
  console.log('t100: median minutes to 100% (clean, healthy); stuck: paused at a deadline or out of time')
  console.log()
}

function printLine (cells: string[]): void {
  const [first = '', ...rest] = cells

  console.log([first.padEnd(42), ...rest.map((cell) => cell.padStart(8))].join(' '))
}

function formatShare (count: number): string {
  return `${((count / rollouts) * 100).toFixed(1)}%`
}

function formatMinutes (ms: number | undefined): string {
  return ms === undefined ? '—' : (ms / 60_000).toFixed(1)
}
