import t from 'tap'
import { findToken, readBearer, secretsMatch, type AdminToken } from '../../src/admin/token-auth.js'
import { memoryLogger } from '../helpers/gateway.js'
import {
  callAdmin, operatorSecret, otherOperatorSecret, quietRoute, readSecret, startAdminHarness
} from '../helpers/admin-api.js'

const tokens: AdminToken[] = [
  { name: 'alice', token: operatorSecret, role: 'operator' },
  { name: 'bob', token: readSecret, role: 'read' }
]

t.test('secretsMatch accepts only the exact secret, whatever the lengths', async (t) => {
  t.ok(secretsMatch(operatorSecret, operatorSecret))
  t.notOk(secretsMatch(operatorSecret.slice(0, -1), operatorSecret), 'a prefix is not enough')
  t.notOk(secretsMatch(`${operatorSecret}x`, operatorSecret), 'a longer secret does not match')
  t.notOk(secretsMatch('', operatorSecret), 'an empty secret does not match')
  t.notOk(secretsMatch(operatorSecret.toUpperCase(), operatorSecret), 'case counts')
  // timingSafeEqual throws on buffers of unequal length: hashing both sides first is what makes this work.
  t.doesNotThrow(() => secretsMatch('short', 'a much longer secret than the other'))
})

t.test('findToken returns the token a secret belongs to, and nothing for a wrong one', async (t) => {
  t.equal(findToken(tokens, readSecret)?.name, 'bob')
  t.equal(findToken(tokens, operatorSecret)?.name, 'alice')
  t.equal(findToken(tokens, 'read-secret'), undefined)
  t.equal(findToken([], readSecret), undefined)
})

t.test('readBearer takes the secret of a bearer header only', async (t) => {
  t.equal(readBearer(`Bearer ${readSecret}`), readSecret)
  t.equal(readBearer(`bearer   ${readSecret}  `), readSecret)
  t.equal(readBearer(`Basic ${readSecret}`), undefined)
  t.equal(readBearer('Bearer '), undefined)
  t.equal(readBearer(undefined), undefined)
})

t.test('the admin API refuses requests without a valid token and logs the token name only', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')], logger })
  const wrongSecret = 'operator-secret-for-tests-0009'

  const missing = await admin.call('GET', '/api/routes', { token: undefined })
  t.equal(missing.status, 401)
  t.match(missing.body, { code: 'SR_ERR_TOKEN_MISSING', error: /Authorization: Bearer/ })
  t.match(missing.headers['www-authenticate'], /^Bearer/)

  const wrong = await admin.call('GET', '/api/routes', { token: wrongSecret })
  t.equal(wrong.status, 401)
  t.match(wrong.body, { code: 'SR_ERR_TOKEN_UNKNOWN' })

  const readOnPost = await admin.call('POST', '/api/routes/feed/pause', { token: readSecret, body: {} })
  t.equal(readOnPost.status, 403)
  t.match(readOnPost.body, { code: 'SR_ERR_READ_ONLY_TOKEN', error: /token bob has the read role/ })

  const readOnGet = await admin.call('GET', '/api/routes', { token: readSecret })
  t.equal(readOnGet.status, 200)
  t.equal(readOnGet.body[0].name, 'feed')

  const operatorOnGet = await admin.call('GET', '/api/routes/feed', { token: operatorSecret })
  t.equal(operatorOnGet.status, 200, 'an operator token reads too')

  const refusals = lines().filter((line) => line.msg === 'admin request refused')
  t.same(refusals.map((line) => [line.level, line.tokenName, line.code]), [
    [40, 'unknown token', 'SR_ERR_TOKEN_MISSING'],
    [40, 'unknown token', 'SR_ERR_TOKEN_UNKNOWN'],
    [40, 'bob', 'SR_ERR_READ_ONLY_TOKEN']
  ])
  const everything = JSON.stringify(lines())
  for (const secret of [operatorSecret, otherOperatorSecret, readSecret, wrongSecret]) {
    t.notOk(everything.includes(secret), 'no secret reaches the log')
  }
})

t.test('health, readiness and metrics stay open without a token', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const answer = await callAdmin(admin.adminUrl, 'GET', path, undefined)
    t.equal(answer.status, 200, path)
  }
  const metrics = await callAdmin(admin.adminUrl, 'GET', '/metrics', undefined)
  t.match(metrics.body, /shadowramp_rollout_percentage\{route="feed"\}/)
})

t.test('with no tokens configured, every API route answers 401 saying how to configure them', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')], admin: { tokens: [] }, logger })

  for (const token of [undefined, readSecret]) {
    const answer = await admin.call('GET', '/api/routes', { token })
    t.equal(answer.status, 401)
    t.match(answer.body, { code: 'SR_ERR_NO_TOKENS', error: /add admin\.tokens to the configuration/ })
  }
  t.equal((await callAdmin(admin.adminUrl, 'GET', '/healthz', undefined)).status, 200)
  t.ok(lines().some((line) => line.level === 40 && /admin\.tokens is empty/.test(String(line.msg))), 'warned once at start')
})

t.test('unknown API paths answer 404 with a coded body, after auth', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  const unknown = await admin.call('GET', '/api/nothing-here')
  t.equal(unknown.status, 404)
  t.match(unknown.body, { code: 'SR_ERR_NOT_FOUND', error: /GET \/api\/nothing-here/ })
  t.equal((await admin.call('GET', '/api/nothing-here', { token: undefined })).status, 401)
})
