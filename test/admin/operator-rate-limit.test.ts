import t from 'tap'
import { TokenBuckets } from '../../src/admin/operator-rate-limit.js'
import { memoryLogger } from '../helpers/gateway.js'
import { operatorSecret, otherOperatorSecret, quietRoute, readSecret, startAdminHarness, testPlan } from '../helpers/admin-api.js'

t.test('a token bucket allows a burst of its capacity, then one action per refill period', async (t) => {
  let now = 0
  const buckets = new TokenBuckets({ capacity: 2, periodMs: 60_000, now: () => now })

  t.same(buckets.take('alice'), { allowed: true })
  t.same(buckets.take('alice'), { allowed: true })
  t.same(buckets.take('alice'), { allowed: false, retryAfterMs: 30_000 }, 'one action comes back every 30 s')
  t.same(buckets.take('carol'), { allowed: true }, 'each key has its own bucket')

  now = 20_000
  t.same(buckets.take('alice'), { allowed: false, retryAfterMs: 10_000 })
  now = 30_000
  t.same(buckets.take('alice'), { allowed: true })
  t.same(buckets.take('alice'), { allowed: false, retryAfterMs: 30_000 })

  now = 10 * 60_000
  t.same([buckets.take('alice'), buckets.take('alice'), buckets.take('alice').allowed], [{ allowed: true }, { allowed: true }, false], 'a long pause refills to the capacity, no more')
})

t.test('operator actions beyond the per-token limit answer 429 with retry-after', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan })], admin: { operatorActionsPerMinute: 2 }, logger })

  t.equal((await admin.call('POST', '/api/routes/feed/pause', { token: operatorSecret })).status, 200)
  t.equal((await admin.call('POST', '/api/routes/feed/resume', { token: operatorSecret })).status, 200)
  const limited = await admin.call('POST', '/api/routes/feed/pause', { token: operatorSecret })
  t.equal(limited.status, 429)
  t.match(limited.body, { code: 'SR_ERR_RATE_LIMITED', error: /token alice made 2 changes in the last minute/ })
  t.equal(limited.headers['retry-after'], '30')

  const version = (await admin.call('GET', '/api/routes/feed')).body.version
  t.equal((await admin.call('POST', '/api/routes/feed/pause', { token: otherOperatorSecret })).status, 200, 'another operator token has its own budget')
  t.equal((await admin.call('GET', '/api/routes/feed')).body.version, version + 1, 'the limited request changed nothing')

  for (let index = 0; index < 3; index++) {
    t.equal((await admin.call('GET', '/api/routes/feed', { token: operatorSecret })).status, 200, 'reading is not limited')
  }
  t.equal((await admin.call('POST', '/api/routes/feed/rollback', { token: operatorSecret })).status, 200, 'a rollback is never limited')
  const alert = await admin.call('POST', '/api/alerts/webhook', { token: operatorSecret, body: { route: 'feed', reason: 'paged' } })
  t.equal(alert.status, 200, 'nor is an alert')

  const warned = lines().filter((line) => line.msg === 'operator action rate limited')
  t.same(warned.map((line) => line.tokenName), ['alice'])
  t.notOk(JSON.stringify(lines()).includes(operatorSecret))
})

t.test('a read token on a changing route is refused before it costs an action', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan })], admin: { operatorActionsPerMinute: 1 } })

  t.equal((await admin.call('POST', '/api/routes/feed/pause', { token: readSecret })).status, 403)
  t.equal((await admin.call('POST', '/api/routes/feed/set', { token: operatorSecret, body: { percentage: 500 } })).status, 400, 'an invalid request costs nothing')
  t.equal((await admin.call('POST', '/api/routes/feed/pause', { token: operatorSecret })).status, 200)
  t.equal((await admin.call('POST', '/api/routes/feed/resume', { token: operatorSecret })).status, 429)
})
