import t from 'tap'
import { PercentageTimeline } from '../../src/admin/percentage-timeline.js'
import { bucketMs, recordPairs, type PairRecord } from '../../src/store/diff-aggregates.js'
import { latencyBucket } from '../../src/store/latency-histogram.js'
import { addLiveFigures, emptyBackendFigures } from '../../src/store/live-figures.js'
import type { HistoryEntry } from '../../src/store/rollout-store.js'
import { operatorSecret, quietRoute, startAdminHarness, testPlan } from '../helpers/admin-api.js'

function entry (at: number, from: number, to: number, action = 'set'): HistoryEntry {
  return { at, route: 'feed', actor: 'alice', action, from, to, reason: 'because' }
}

function record (verdict: PairRecord['verdict'], capturedAt: number): PairRecord {
  return { capturedAt, verdict, differences: [], ignored: [], noise: [] }
}

t.test('the percentage timeline follows the history and ends at the current percentage', async (t) => {
  const history = [entry(3_000, 5, 0, 'roll-back'), entry(1_000, 1, 5, 'promote')]
  const timeline = new PercentageTimeline(history, 0, 5_000)

  t.equal(timeline.at(500), 1, 'before the oldest entry: where it started from')
  t.equal(timeline.at(1_000), 5, 'a change counts from its own time')
  t.equal(timeline.at(2_999), 5)
  t.equal(timeline.at(3_000), 0)
  t.same(timeline.between(0, 2_000).map((change) => change.action), ['promote'], 'oldest first, within the range')
  t.same(timeline.between(0, 5_000).map((change) => change.to), [5, 0])

  const unrecorded = new PercentageTimeline(history, 40, 5_000)
  t.equal(unrecorded.at(5_000), 40, 'now is the current state, even when it was written without a history entry')
  t.equal(new PercentageTimeline([], 12, 5_000).at(0), 12, 'without history: the current percentage throughout')
})

t.test('GET /api/routes/:route/timeseries charts divergence, errors, latency and the percentage', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 1 })] })
  const now = Date.now()
  const earlier = now - 5 * 60_000
  await recordPairs(admin.redis, admin.keys, 'feed', 'early', [record('identical', earlier), record('diverging', earlier)])
  const figures = { candidate: emptyBackendFigures(), baseline: emptyBackendFigures() }
  figures.candidate.requests = 4
  figures.candidate.errors = 1
  figures.candidate.latency[latencyBucket(40)] = 4
  figures.baseline.requests = 10
  figures.baseline.latency[latencyBucket(7)] = 10
  await addLiveFigures(admin.redis, admin.keys, 'feed', Math.floor(earlier / bucketMs), figures)
  t.equal((await admin.call('POST', '/api/routes/feed/set', { token: operatorSecret, body: { percentage: 25 } })).status, 200)

  const answer = await admin.call('GET', '/api/routes/feed/timeseries?since=10m')
  t.equal(answer.status, 200)
  const { route, from, to, pointMs, points, changes } = answer.body
  t.equal(route, 'feed')
  t.equal(to - from, 10 * 60_000)
  t.equal(pointMs, bucketMs, 'ten minutes fit in 10 s points')
  t.ok(points.length >= 60 && points.length <= 61)

  const busy = points.find((point: any) => point.compared > 0)
  t.match(busy, { compared: 2, diverging: 1, divergenceRate: 0.5, candidateRequests: 4, candidateErrorRate: 0.25, baselineRequests: 10, baselineErrorRate: 0, candidateP99Ms: 50, baselineP99Ms: 8 })
  t.equal(busy.percentage, 1, 'before the change: the percentage the change started from')
  t.match(points[1], { compared: 0, divergenceRate: null, candidateErrorRate: null, candidateP99Ms: null }, 'empty points have no rates')
  t.equal(points.at(-1).percentage, 25, 'the last point: the current percentage')
  t.match(changes, [{ action: 'set', actor: 'alice', from: 1, to: 25 }])

  const day = await admin.call('GET', '/api/routes/feed/timeseries?since=1d')
  t.ok(day.body.points.length <= 360, 'a day is merged into a few hundred points')
  t.ok(day.body.pointMs >= 24 * bucketMs && day.body.pointMs % bucketMs === 0, 'each point adds whole buckets up')

  const defaulted = await admin.call('GET', '/api/routes/feed/timeseries')
  t.equal(defaulted.body.to - defaulted.body.from, 60 * 60_000, 'the last hour by default')
})

t.test('the timeseries needs a token, a known route and a range of at most a day', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  t.equal((await admin.call('GET', '/api/routes/feed/timeseries', { token: undefined })).status, 401)
  t.match((await admin.call('GET', '/api/routes/nope/timeseries')).body, { code: 'SR_ERR_UNKNOWN_ROUTE' })
  const tooLong = await admin.call('GET', '/api/routes/feed/timeseries?since=2d')
  t.equal(tooLong.status, 400)
  t.equal(tooLong.body.code, 'SR_ERR_BAD_DURATION')
  t.equal((await admin.call('GET', '/api/routes/feed/timeseries?since=soon')).status, 400)
  t.equal((await admin.call('GET', '/api/routes/feed/timeseries?limit=2')).status, 400, 'unknown parameters are refused')

  const quiet = await admin.call('GET', '/api/routes/feed/timeseries?since=1m')
  t.ok(quiet.body.points.every((point: any) => point.percentage === 0 && point.compared === 0), 'a route with no figures and no history: flat at its percentage')
  t.same(quiet.body.changes, [])
})

t.test('a long history is read in full only when the range reaches past its latest entries', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan })] })
  const post = async (percentage: number): Promise<void> => {
    await admin.call('POST', '/api/routes/feed/set', { token: operatorSecret, body: { percentage } })
  }
  for (let index = 0; index < 101; index++) await post(index % 2 === 0 ? 5 : 25)

  const answer = await admin.call('GET', '/api/routes/feed/timeseries?since=1h')
  t.equal(answer.body.changes.length, 101, 'every change of the range, past the first hundred')
  t.equal(answer.body.changes[0].from, 0, 'the oldest first')
})
