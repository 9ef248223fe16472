import { performance } from 'node:perf_hooks'
import t from 'tap'
import { request } from 'undici'
import { writeRolloutState } from '../../src/store/rollout-store.js'
import { json, startBackend } from '../helpers/http.js'
import { callAdmin, operatorSecret, quietRoute, readSecret, startAdminHarness, testPlan, waitFor } from '../helpers/admin-api.js'

const operator = { token: operatorSecret }

/** An Alertmanager (version 4) webhook payload. */
function alertmanagerPayload (alerts: Array<{ status?: 'firing' | 'resolved', labels: Record<string, string>, annotations?: Record<string, string> }>): object {
  return {
    version: '4',
    groupKey: '{}:{alertname="CandidateErrors"}',
    truncatedAlerts: 0,
    status: alerts.some((alert) => (alert.status ?? 'firing') === 'firing') ? 'firing' : 'resolved',
    receiver: 'shadowramp',
    groupLabels: { alertname: 'CandidateErrors' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts: alerts.map((alert, index) => ({
      status: alert.status ?? 'firing',
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: '2030-01-01T00:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.invalid/graph',
      fingerprint: `f${index}`
    }))
  }
}

async function servedBy (gatewayUrl: string, path: string): Promise<string | undefined> {
  const response = await request(`${gatewayUrl}${path}`, { headers: { 'x-user-id': 'alice' } })
  await response.body.dump()
  return response.headers['x-served-by'] as string | undefined
}

t.test('a firing Alertmanager alert rolls its route back within a second, and the gateway follows', async (t) => {
  const baseline = await startBackend((_request, response) => json(response, 200, { from: 'baseline' }))
  const candidate = await startBackend((_request, response) => json(response, 200, { from: 'candidate' }))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const route = { name: 'feed', paths: ['/feed'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 100 }
  const admin = await startAdminHarness(t, { routes: [route, quietRoute('other', { percentage: 50 })] })
  t.equal(await servedBy(admin.gatewayUrl, '/feed'), 'candidate')

  const started = performance.now()
  const answer = await admin.call('POST', '/api/alerts/alertmanager', {
    ...operator,
    body: alertmanagerPayload([{ labels: { alertname: 'CandidateErrors', route: 'feed', severity: 'page' }, annotations: { summary: 'candidate 5xx above 5%' } }])
  })
  t.equal(answer.status, 200)
  t.same(answer.body, { rolledBack: [{ route: 'feed', from: 100, to: 0 }], alreadyRolledBack: [], unknown: [], ignored: { resolved: 0, withoutRoute: 0 } })

  const stateWait = await waitFor(async () => (await admin.call('GET', '/api/routes/feed')).body.status === 'rolled-back', 3_000)
  const inState = performance.now() - started
  const gatewayWait = await waitFor(async () => {
    const ready = await callAdmin(admin.adminUrl, 'GET', '/readyz', undefined)
    return ready.body.percentages.feed === 0
  }, 3_000)
  const inGateway = performance.now() - started
  t.ok(Number.isFinite(stateWait) && inState < 1_000, `rolled back in the state ${inState.toFixed(0)} ms after the alert was sent`)
  t.ok(Number.isFinite(gatewayWait) && inGateway < 1_000, `the gateway serves 0% ${inGateway.toFixed(0)} ms after the alert was sent`)
  t.equal(await servedBy(admin.gatewayUrl, '/feed'), 'baseline')
  t.equal(admin.served('other'), 50, 'routes the alert does not name keep their percentage')

  const [entry] = (await admin.call('GET', '/api/routes/feed/history')).body
  t.match(entry, { actor: 'alertmanager', action: 'alert', from: 100, to: 0, reason: 'alert CandidateErrors firing: candidate 5xx above 5%' })
  t.match(entry.figures, {
    source: 'alertmanager',
    receiver: 'shadowramp',
    alertCount: 1,
    alerts: [{ labels: { alertname: 'CandidateErrors', route: 'feed', severity: 'page' }, annotations: { summary: 'candidate 5xx above 5%' }, fingerprint: 'f0' }]
  })
  t.match((await admin.call('GET', '/api/routes/feed')).body, { status: 'rolled-back', actor: 'alertmanager', waitingFor: /no plan to retry; set the percentage by hand/ })
})

t.test('an alert rolls a route back whatever its status: paused, ramping, holding or complete', async (t) => {
  const routes = ['paused', 'ramping', 'holding', 'complete'].map((name) => quietRoute(name, { plan: testPlan, percentage: 25 }))
  const admin = await startAdminHarness(t, { routes })
  await admin.call('POST', '/api/routes/paused/pause', operator)
  await writeRolloutState(admin.redis, admin.keys, 'ramping', { percentage: 25, status: 'ramping', stepIndex: 2, stepStartedAt: Date.now(), actor: 'controller', reason: 'promoted' })
  await writeRolloutState(admin.redis, admin.keys, 'holding', { percentage: 25, status: 'ramping', stepIndex: 2, stepStartedAt: Date.now(), waitingFor: 'holding: 140 of 500 compared pairs', actor: 'controller', reason: 'hold' })
  await writeRolloutState(admin.redis, admin.keys, 'complete', { percentage: 100, status: 'complete', stepIndex: 3, stepStartedAt: Date.now(), actor: 'controller', reason: 'done' })

  for (const name of ['paused', 'ramping', 'holding', 'complete']) {
    const payload = alertmanagerPayload([{ labels: { alertname: 'SloBurn', shadowramp_route: name } }])
    const answer = await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: payload })
    t.same(answer.body.rolledBack.map((entry: { route: string, to: number }) => [entry.route, entry.to]), [[name, 0]], name)
    t.match((await admin.call('GET', `/api/routes/${name}`)).body, { status: 'rolled-back', percentage: 0 }, name)
  }
  t.ok(await waitFor(async () => admin.served('complete') === 0, 2_000) < 2_000)
})

t.test('`route: "*"` rolls every route back; a repeat changes nothing', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('a', { percentage: 10 }), quietRoute('b', { percentage: 20, plan: testPlan }), quietRoute('c', { percentage: 30 })] })
  const payload = alertmanagerPayload([{ labels: { alertname: 'Outage', route: '*' } }])

  const first = await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: payload })
  t.same(first.body.rolledBack, [{ route: 'a', from: 10, to: 0 }, { route: 'b', from: 20, to: 0 }, { route: 'c', from: 30, to: 0 }])
  const states = (await admin.call('GET', '/api/routes')).body
  t.same(states.map((state: { status: string, percentage: number }) => [state.status, state.percentage]), [['rolled-back', 0], ['rolled-back', 0], ['rolled-back', 0]])

  const again = await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: payload })
  t.same(again.body, { rolledBack: [], alreadyRolledBack: ['a', 'b', 'c'], unknown: [], ignored: { resolved: 0, withoutRoute: 0 } })
  const all = await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: alertmanagerPayload([{ labels: { route: 'all' } }]) })
  t.same(all.body.alreadyRolledBack, ['a', 'b', 'c'], '`all` means every route too')
  t.equal((await admin.call('GET', '/api/routes/a/history')).body.length, 1, 'one history entry per route')
})

t.test('resolved alerts, alerts without a route and unknown routes change nothing else', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { percentage: 40 }), quietRoute('cart', { percentage: 40 })] })

  const resolved = await admin.call('POST', '/api/alerts/alertmanager', {
    ...operator,
    body: alertmanagerPayload([{ status: 'resolved', labels: { alertname: 'CandidateErrors', route: 'feed' } }, { labels: { alertname: 'DiskFull', instance: 'db-1' } }])
  })
  t.same(resolved.body, { rolledBack: [], alreadyRolledBack: [], unknown: [], ignored: { resolved: 1, withoutRoute: 1 } })
  t.match((await admin.call('GET', '/api/routes/feed')).body, { percentage: 40, version: 1 })

  const mixed = await admin.call('POST', '/api/alerts/alertmanager', {
    ...operator,
    body: alertmanagerPayload([{ labels: { alertname: 'A', route: 'nope' } }, { labels: { alertname: 'B', route: 'cart' } }, { labels: { alertname: 'C', route: 'cart' } }])
  })
  t.equal(mixed.status, 200)
  t.same(mixed.body, { rolledBack: [{ route: 'cart', from: 40, to: 0 }], alreadyRolledBack: [], unknown: ['nope'], ignored: { resolved: 0, withoutRoute: 0 } })
  const [entry] = (await admin.call('GET', '/api/routes/cart/history')).body
  t.match(entry, { reason: 'alert B, C firing', figures: { alertCount: 2 } })
  t.equal((await admin.call('GET', '/api/routes/cart/history')).body.length, 1, 'two alerts on one route roll it back once')
  t.match((await admin.call('GET', '/api/routes/feed')).body, { percentage: 40, version: 1 })
})

t.test('the alert receivers need an operator token and a well-formed payload', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { percentage: 40 })] })
  const payload = alertmanagerPayload([{ labels: { route: 'feed' } }])

  t.equal((await admin.call('POST', '/api/alerts/alertmanager', { token: undefined, body: payload })).status, 401)
  t.equal((await admin.call('POST', '/api/alerts/alertmanager', { token: readSecret, body: payload })).status, 403)
  t.equal((await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: { version: '4' } })).status, 400)
  const badStatus = await admin.call('POST', '/api/alerts/alertmanager', { ...operator, body: { alerts: [{ status: 'pending', labels: { route: 'feed' } }] } })
  t.equal(badStatus.status, 400)
  t.equal((await admin.call('POST', '/api/alerts/webhook', { ...operator, body: { route: 'feed' } })).status, 400, 'a webhook needs a reason')
  t.match((await admin.call('GET', '/api/routes/feed')).body, { percentage: 40, version: 1 })
})

t.test('the plain webhook rolls a route, or every route, back', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { percentage: 40, plan: testPlan }), quietRoute('cart', { percentage: 30 })] })
  await admin.call('POST', '/api/routes/feed/pause', operator)

  const one = await admin.call('POST', '/api/alerts/webhook', { ...operator, body: { route: 'feed', reason: 'checkout errors in Datadog', source: 'datadog' } })
  t.equal(one.status, 200)
  t.same(one.body, { rolledBack: [{ route: 'feed', from: 40, to: 0 }], alreadyRolledBack: [], unknown: [], ignored: { resolved: 0, withoutRoute: 0 } })
  const [entry] = (await admin.call('GET', '/api/routes/feed/history')).body
  t.match(entry, { actor: 'datadog', action: 'alert', reason: 'checkout errors in Datadog', figures: { source: 'datadog', tokenName: 'alice' } })

  const unknown = await admin.call('POST', '/api/alerts/webhook', { ...operator, body: { route: 'nope', reason: 'x' } })
  t.equal(unknown.status, 404)
  t.equal(unknown.body.code, 'SR_ERR_UNKNOWN_ROUTE')

  const all = await admin.call('POST', '/api/alerts/webhook', { ...operator, body: { route: '*', reason: 'region down' } })
  t.same(all.body.rolledBack, [{ route: 'cart', from: 30, to: 0 }])
  t.same(all.body.alreadyRolledBack, ['feed'])
  t.match((await admin.call('GET', '/api/routes/cart/history')).body[0], { actor: 'webhook', reason: 'region down' })
})

t.test('an alert still rolls back a route whose state Redis lost', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { percentage: 40 })] })
  await admin.redis.del(admin.keys.rolloutState)

  const answer = await admin.call('POST', '/api/alerts/webhook', { ...operator, body: { route: 'feed', reason: 'paged' } })
  t.same(answer.body.rolledBack, [{ route: 'feed', from: 40, to: 0 }])
  t.ok(await waitFor(async () => admin.served('feed') === 0, 2_000) < 2_000)
})
