import t from 'tap'
import type { RouteView } from '../../src/admin/route-view.js'
import { describeAge, formatHistory, formatRouteLine, formatRouteStatus } from '../../src/cli/format-status.js'

const now = Date.parse('2030-01-01T12:00:00.000Z')

function view (overrides: Partial<RouteView> = {}): RouteView {
  return {
    name: 'feed',
    paths: ['/feed'],
    percentage: 25,
    status: 'ramping',
    step: { index: 3, percentage: 25, of: 6 },
    stepStartedAt: '2030-01-01T11:48:00.000Z',
    waitingFor: 'holding: 140 of 500 compared pairs',
    failingIntervals: 0,
    version: 7,
    updatedAt: '2030-01-01T11:48:00.000Z',
    actor: 'controller',
    reason: 'promoted: every check passed',
    plan: { steps: [1, 5, 10, 25, 50, 100], intervalMs: 10_000, thresholds: { divergencePercent: 1, errorExcessPoints: 1, fallbackPercent: 2, p99Ratio: 1.5, p99ExcessMs: 25 } },
    divergence: { from: '2030-01-01T11:48:00.000Z', to: '2030-01-01T12:00:00.000Z', compared: 500, diverging: 2, rate: 0.004 },
    ...overrides
  }
}

t.test('a route on a plan reads as percentage, step, what it waits for and its step\'s divergence', async (t) => {
  t.equal(formatRouteStatus(view(), now), [
    'feed',
    '  percentage   25% of live requests on the candidate',
    '  status       ramping · step 4/6 (25%)',
    '  waiting for  holding: 140 of 500 compared pairs',
    '  divergence   0.40% (2 of 500 compared; this step, since 12m ago)',
    '  last change  12m ago by controller: promoted: every check passed'
  ].join('\n'))
  t.equal(formatRouteLine(view()), 'feed: 25% · ramping · step 4/6 (25%) — holding: 140 of 500 compared pairs')
})

t.test('a route rolled back to 0% shows the step a retry starts at, not a step it serves', async (t) => {
  const rolledBack = view({ percentage: 0, status: 'rolled-back', step: { index: 0, percentage: 1, of: 6 }, waitingFor: 'rolled back: waiting for a person to retry' })
  t.match(formatRouteStatus(rolledBack, now), /\n {2}status {7}rolled-back · a retry starts at step 1\/6 \(1%\)\n/)
  t.equal(formatRouteLine(rolledBack), 'feed: 0% · rolled-back · a retry starts at step 1/6 (1%) — rolled back: waiting for a person to retry')

  // Rolled back to the previous step, it serves that step's percentage: the step is shown as usual.
  const previousStep = view({ percentage: 10, status: 'rolled-back', step: { index: 2, percentage: 10, of: 6 } })
  t.match(formatRouteLine(previousStep), /^feed: 10% · rolled-back · step 3\/6 \(10%\)/)
})

t.test('a route Redis holds nothing for says so', async (t) => {
  const text = formatRouteStatus(view({ plan: null, step: null, status: 'manual', waitingFor: null, stepStartedAt: null, updatedAt: null, actor: 'config', reason: 'r' }), now)
  t.match(text, /status {7}manual \(no plan\)/)
  t.match(text, /last change {2}not yet recorded by config: r/)
  t.match(text, /divergence {3}0\.40% \(2 of 500 compared; last 12m\)/)
})

t.test('ages read in the largest unit that keeps them short', async (t) => {
  const ago = (ms: number): string => describeAge(new Date(now - ms).toISOString(), now)
  t.same([ago(5_000), ago(119_000), ago(45 * 60_000), ago(5 * 3_600_000), ago(3 * 86_400_000), ago(-5_000)], ['5s ago', '119s ago', '45m ago', '5h ago', '3d ago', '0s ago'])
})

t.test('an empty history says so', async (t) => {
  t.equal(formatHistory([]), 'no changes recorded yet')
  t.equal(formatHistory([{ at: '2030-01-01T12:00:00.123Z', route: 'feed', actor: 'alertmanager', action: 'alert', from: 25, to: 0, reason: 'alert X firing' }]),
    '2030-01-01T12:00:00Z  alert  25% → 0%  alertmanager  alert X firing')
})
