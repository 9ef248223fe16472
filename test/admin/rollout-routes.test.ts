import t from 'tap'
import { recordPairs, type PairRecord } from '../../src/store/diff-aggregates.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { callAdmin, operatorSecret, quietRoute, readSecret, startAdminHarness, testPlan, testTokens, waitFor } from '../helpers/admin-api.js'

function record (verdict: PairRecord['verdict'], capturedAt = Date.now(), extra: Partial<PairRecord> = {}): PairRecord {
  return { capturedAt, verdict, differences: [], ignored: [], noise: [], ...extra }
}

const operator = { token: operatorSecret }

t.test('GET /api/routes shows every route\'s rollout, plan and divergence', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 5 }), quietRoute('misc', { percentage: 2.5 })] })
  const records = [...Array.from({ length: 8 }, () => record('identical')), record('diverging'), record('status-mismatch'), record('not-comparable')]
  await recordPairs(admin.redis, admin.keys, 'misc', 'batch-1', records)

  const answer = await admin.call('GET', '/api/routes')
  t.equal(answer.status, 200)
  const [feed, misc] = answer.body
  t.match(feed, {
    name: 'feed',
    paths: ['/feed'],
    percentage: 5,
    status: 'manual',
    step: { index: 1, percentage: 5, of: 4 },
    waitingFor: 'the controller to start the plan',
    failingIntervals: 0,
    version: 1,
    actor: 'config',
    plan: { steps: [1, 5, 25, 100], intervalMs: 10_000, thresholds: { divergencePercent: 1, errorExcessPoints: 1, fallbackPercent: 2, p99Ratio: 1.5, p99ExcessMs: 25 } },
    divergence: { compared: 0, diverging: 0, rate: null }
  })
  t.match(misc, { name: 'misc', percentage: 2.5, status: 'manual', step: null, plan: null, waitingFor: null })
  t.match(misc.divergence, { compared: 10, diverging: 2, rate: 0.2 })
  t.equal(Date.parse(misc.divergence.to) - Date.parse(misc.divergence.from), 10 * 60_000, 'routes without a plan show the last 10 minutes')

  const one = await admin.call('GET', '/api/routes/misc')
  t.equal(one.status, 200)
  t.same(one.body.divergence.compared, 10)

  const unknown = await admin.call('GET', '/api/routes/nope')
  t.equal(unknown.status, 404)
  t.match(unknown.body, { code: 'SR_ERR_UNKNOWN_ROUTE', error: 'unknown route nope: this gateway has routes feed, misc' }, 'the names it has, for a typo')
})

t.test('the divergence shown for a route on a plan counts from the start of its step', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan })] })
  const before = Date.now() - 60_000
  await recordPairs(admin.redis, admin.keys, 'feed', 'old', [record('diverging', before), record('diverging', before)])

  t.equal((await admin.call('GET', '/api/routes/feed')).body.divergence.compared, 2, 'before a step starts: the last 10 minutes')
  const set = await admin.call('POST', '/api/routes/feed/set', { ...operator, body: { percentage: 5 } })
  t.equal(Date.parse(set.body.divergence.from), Date.parse(set.body.stepStartedAt))
  t.equal(set.body.divergence.compared, 0, 'pairs from before the step are not counted')

  await recordPairs(admin.redis, admin.keys, 'feed', 'new', [record('identical'), record('diverging')])
  t.match((await admin.call('GET', '/api/routes/feed')).body.divergence, { compared: 2, diverging: 1, rate: 0.5 })
})

t.test('each manual action changes the state and appends a history entry naming the token', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 1 })] })
  const post = async (action: string, body?: object): Promise<any> => await admin.call('POST', `/api/routes/feed/${action}`, { ...operator, body })

  const set = await post('set', { percentage: 25, reason: 'customers asked' })
  t.equal(set.status, 200)
  t.match(set.body, { percentage: 25, status: 'paused', step: { index: 2 }, actor: 'alice', reason: 'customers asked', waitingFor: /set by hand/ })
  t.ok(await waitFor(async () => admin.served('feed') === 25, 2_000) < 2_000, 'the gateway serves the new percentage')

  t.match((await post('resume')).body, { percentage: 25, status: 'ramping', step: { index: 2 }, waitingFor: /^the first analysis of this step/ })
  t.match((await post('pause', { reason: 'lunch' })).body, { percentage: 25, status: 'paused', reason: 'lunch', waitingFor: 'paused by alice; resume to let the plan continue' })
  t.match((await post('resume')).body, { status: 'ramping' })
  t.match((await post('promote')).body, { percentage: 100, status: 'complete', step: { index: 3 } })
  t.match((await post('rollback')).body, { percentage: 0, status: 'rolled-back', step: { index: 0 } })
  const again = await post('rollback')
  t.equal(again.status, 200, 'a second rollback is no mistake')
  t.match(again.body, { percentage: 0, status: 'rolled-back' }, 'and changes nothing (no second history entry, below)')
  t.match((await post('retry')).body, { percentage: 1, status: 'ramping', step: { index: 0 } })

  const history = await admin.call('GET', '/api/routes/feed/history')
  t.equal(history.status, 200)
  t.same(history.body.map((entry: any) => [entry.action, entry.from, entry.to, entry.actor]), [
    ['retry', 0, 1, 'alice'],
    ['roll-back', 100, 0, 'alice'],
    ['promote', 25, 100, 'alice'],
    ['resume', 25, 25, 'alice'],
    ['pause', 25, 25, 'alice'],
    ['resume', 25, 25, 'alice'],
    ['set', 1, 25, 'alice']
  ])
  t.equal(history.body[6].reason, 'customers asked')
  t.equal(history.body[1].reason, 'no reason given', 'a missing reason is said to be missing, not made up from the action and the actor')
  t.match(history.body[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

  const limited = await admin.call('GET', '/api/routes/feed/history?limit=2')
  t.same(limited.body.map((entry: any) => entry.action), ['retry', 'roll-back'])
})

t.test('actions a route cannot take answer 409 and change nothing', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan }), quietRoute('misc')] })

  const retry = await admin.call('POST', '/api/routes/feed/retry', operator)
  t.equal(retry.status, 409)
  t.match(retry.body, { code: 'SR_ERR_ACTION_REFUSED', error: 'route feed cannot do that: only a rolled-back route can be retried' })

  const promote = await admin.call('POST', '/api/routes/misc/promote', operator)
  t.equal(promote.status, 409)
  t.match(promote.body.error, /promote needs a plan/)

  await admin.call('POST', '/api/routes/feed/set', { ...operator, body: { percentage: 100 } })
  t.equal((await admin.call('POST', '/api/routes/feed/promote', operator)).status, 409, 'no step after the last')
  await admin.call('POST', '/api/routes/feed/rollback', operator)
  t.equal((await admin.call('POST', '/api/routes/feed/pause', operator)).status, 409, 'a rolled-back route is retried, not paused')

  t.same((await admin.call('GET', '/api/routes/feed/history')).body.map((entry: any) => entry.action), ['roll-back', 'set'])
  t.equal((await admin.call('GET', '/api/routes/misc')).body.version, 1)
})

t.test('a set without a plan moves the percentage and keeps the route manual', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('misc')] })

  const set = await admin.call('POST', '/api/routes/misc/set', { ...operator, body: { percentage: 12.34 } })
  t.match(set.body, { percentage: 12.34, status: 'manual', step: null, reason: 'no reason given' })
})

t.test('bad requests answer 400 with a coded body', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan })] })
  const set = async (body: unknown): Promise<any> => await admin.call('POST', '/api/routes/feed/set', { ...operator, body })

  t.match((await set({})).body, { code: 'SR_ERR_BAD_REQUEST', error: /must have required property 'percentage'/ })
  t.match((await set({ percentage: 100.5 })).body, { code: 'SR_ERR_BAD_REQUEST', error: /must be <= 100/ })
  t.match((await set({ percentage: -1 })).body, { code: 'SR_ERR_BAD_REQUEST' })
  t.match((await set({ percentage: 33.333 })).body, { code: 'SR_ERR_BAD_PERCENTAGE', error: /steps of 0\.01, got 33\.333/ })
  t.match((await set({ percentage: 5, percent: 5 })).body, { code: 'SR_ERR_BAD_REQUEST', error: /additional properties/ }, 'unknown fields are refused, not dropped')
  t.match((await set({ percentage: 5, reason: 'x'.repeat(501) })).body, { code: 'SR_ERR_BAD_REQUEST' })
  t.equal((await admin.call('POST', '/api/routes/feed/pause', { ...operator, body: { percentage: 5 } })).status, 400, 'pause takes no percentage')

  for (const limit of ['0', '1001', 'ten']) {
    const history = await admin.call('GET', `/api/routes/feed/history?limit=${limit}`)
    t.equal(history.status, 400, `limit=${limit}`)
  }
  for (const since of ['yesterday', '2d', '-5m']) {
    const report = await admin.call('GET', `/api/routes/feed/report?since=${since}`)
    t.equal(report.status, 400, `since=${since}`)
    t.equal(report.body.code, 'SR_ERR_BAD_DURATION')
  }
  t.equal((await admin.call('GET', '/api/routes/feed/examples?kind=changed')).status, 400, 'examples need a path')
  t.equal((await admin.call('POST', '/api/routes/nope/pause', operator)).status, 404)
  t.equal((await admin.call('GET', '/api/routes/feed')).body.version, 1, 'none of them changed the route')
})

t.test('the report and examples of a route come from the diff workers\' figures', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })
  const example = JSON.stringify({ id: 'p1', request: { path: '/feed' }, verdict: 'diverging', differences: [{ path: 'items[*].price', kind: 'changed' }] })
  await recordPairs(admin.redis, admin.keys, 'feed', 'batch', [
    record('identical'),
    record('diverging', Date.now(), { differences: [{ path: 'items[*].price', kind: 'changed' }], example })
  ])

  const report = await admin.call('GET', '/api/routes/feed/report?since=5m')
  t.equal(report.status, 200)
  t.match(report.body, { route: 'feed', pairs: 2, compared: 2, diverging: 1, divergenceRate: 0.5, paths: [{ path: 'items[*].price', kind: 'changed', count: 1 }], noise: { samples: 0 }, backedOff: [] })
  t.equal(report.body.to - report.body.from, 5 * 60_000)
  const byDefault = (await admin.call('GET', '/api/routes/feed/report')).body
  t.equal(byDefault.to - byDefault.from, 10 * 60_000, 'since defaults to 10m')

  const examples = await admin.call('GET', `/api/routes/feed/examples?kind=changed&path=${encodeURIComponent('items[*].price')}`)
  t.equal(examples.status, 200)
  t.same(examples.body, { route: 'feed', kind: 'changed', path: 'items[*].price', examples: [JSON.parse(example)] })
  t.same((await admin.call('GET', '/api/routes/feed/examples?kind=changed&path=other')).body.examples, [])
})

t.test('examples of a divergence of the whole body (a path that is empty) can be fetched', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })
  const example = JSON.stringify({ id: 'p2', request: { path: '/feed' }, verdict: 'diverging', differences: [{ path: '', kind: 'type-changed' }] })
  await recordPairs(admin.redis, admin.keys, 'feed', 'batch', [record('diverging', Date.now(), { differences: [{ path: '', kind: 'type-changed' }], example })])

  const report = await admin.call('GET', '/api/routes/feed/report?since=5m')
  t.match(report.body.paths, [{ path: '', kind: 'type-changed', count: 1 }], 'the report names the whole body by an empty path')
  const examples = await admin.call('GET', '/api/routes/feed/examples?kind=type-changed&path=')
  t.equal(examples.status, 200)
  t.same(examples.body, { route: 'feed', kind: 'type-changed', path: '', examples: [JSON.parse(example)] })
})

t.test('ignore-rule decisions are recorded with the token name and can be forgotten', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })
  const rule = { rule: 'ignorePaths', pattern: 'generatedAt', decision: 'accepted' }

  t.equal((await admin.call('POST', '/api/routes/feed/ignore-rules', { token: readSecret, body: rule })).status, 403)
  const decided = await admin.call('POST', '/api/routes/feed/ignore-rules', { ...operator, body: rule })
  t.equal(decided.status, 200)
  t.match(decided.body, { route: 'feed', ...rule, actor: 'alice', at: /Z$/ })
  t.match((await admin.call('GET', '/api/routes/feed/report')).body.acceptedRules, [{ ...rule, actor: 'alice' }])
  t.equal((await admin.call('POST', '/api/routes/feed/ignore-rules', { ...operator, body: { ...rule, decision: 'maybe' } })).status, 400)

  const query = '?rule=ignorePaths&pattern=generatedAt'
  const forgotten = await admin.call('DELETE', `/api/routes/feed/ignore-rules${query}`, operator)
  t.same(forgotten.body, { route: 'feed', rule: 'ignorePaths', pattern: 'generatedAt', forgotten: true })
  t.same((await admin.call('GET', '/api/routes/feed/report')).body.acceptedRules, [])
  const again = await admin.call('DELETE', `/api/routes/feed/ignore-rules${query}`, operator)
  t.equal(again.status, 404)
  t.equal(again.body.code, 'SR_ERR_UNKNOWN_IGNORE_RULE')
})

t.test('a route whose state Redis lost is shown from what the gateway serves, and can still be changed', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 5 })] })
  await admin.redis.hdel(admin.keys.rolloutState, 'feed')

  const shown = await admin.call('GET', '/api/routes/feed')
  t.match(shown.body, { percentage: 5, version: 0, updatedAt: null, actor: 'config' })

  const paused = await admin.call('POST', '/api/routes/feed/pause', operator)
  t.equal(paused.status, 200)
  t.match(paused.body, { percentage: 5, status: 'paused', version: 2 })
})

t.test('while Redis is away the API answers 503 at once', async (t) => {
  const { port, server } = await startPrivateRedis()
  const redisUrl = `redis://127.0.0.1:${port}`
  const running = await startTestShadowramp({
    admin: { listen: { host: '127.0.0.1', port: 0 }, tokens: testTokens },
    controller: { enabled: false },
    redis: { url: redisUrl },
    routes: [quietRoute('feed')]
  }, { redisUrl })
  t.teardown(async () => { await running.close(); server.kill('SIGKILL') })

  t.equal((await callAdmin(running.adminUrl, 'GET', '/api/routes', readSecret)).status, 200)
  server.kill('SIGKILL')
  await new Promise((resolve) => server.once('exit', resolve))

  const answer = await callAdmin(running.adminUrl, 'GET', '/api/routes', readSecret)
  t.equal(answer.status, 503)
  t.match(answer.body, { code: 'SR_ERR_STATE_UNAVAILABLE', error: /redis is unreachable/ })
  const alert = await callAdmin(running.adminUrl, 'POST', '/api/alerts/webhook', operatorSecret, { route: 'feed', reason: 'paged' })
  t.equal(alert.status, 503, 'an alert sender is told to retry')
  t.equal((await callAdmin(running.adminUrl, 'GET', '/healthz', undefined)).status, 200)
})

t.test('a rollback by a person is logged as a warning; one that changes nothing and other actions are not', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 5 })], logger })
  for (const action of ['pause', 'rollback', 'rollback']) {
    t.equal((await admin.call('POST', `/api/routes/feed/${action}`, operator)).status, 200, action)
  }

  const logged = lines().filter((line) => line.actor === 'alice').map((line) => [line.level, line.msg])
  t.same(logged, [
    [30, 'pause on feed by alice: percentage from 5 to 5'],
    [40, 'roll-back on feed by alice: percentage from 5 to 0'],
    [30, 'roll-back on feed by alice: nothing to change at 0%']
  ])
  t.match(lines().find((line) => line.level === 40), { reason: 'no reason given' }, 'the warning says why')
})

t.test('a blank reason is no reason: the history says none was given', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 5 })] })
  for (const reason of ['   ', '\u00a0\u2003']) {
    await admin.call('POST', '/api/routes/feed/pause', { ...operator, body: { reason } })
    await admin.call('POST', '/api/routes/feed/resume', { ...operator, body: { reason: 'resumed' } })
  }
  const history = await admin.call('GET', '/api/routes/feed/history?limit=10', { token: readSecret })
  const paused = history.body.filter((entry: { action: string }) => entry.action === 'pause')
  t.same(paused.map((entry: { reason: string }) => entry.reason), ['no reason given', 'no reason given'])
})
