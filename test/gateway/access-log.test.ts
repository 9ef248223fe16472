import t from 'tap'
import { request } from 'undici'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { json, startBackend } from '../helpers/http.js'

t.test('each live request gets one access line: route, method, path without its query, status, who served it', async (t) => {
  const baseline = await startBackend((_request, response) => json(response, 200, { from: 'baseline' }))
  const candidate = await startBackend((_request, response) => json(response, 503, { from: 'candidate' }))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const { logger, lines } = memoryLogger('info')
  const gateway = await startTestShadowramp({
    log: { requests: true },
    routes: [{ name: 'products', paths: ['/products', '/products/*'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 100 }]
  }, { logger })
  t.teardown(gateway.close)

  for (const path of ['/products/7?token=s3cret-in-the-query', '/nowhere']) await (await request(`${gateway.gatewayUrl}${path}`)).body.dump()

  const access = lines().filter((line) => line.msg === 'request completed')
  t.equal(access.length, 2, 'one line per request')
  t.match(access[0], { level: 30, route: 'products', method: 'GET', path: '/products/7', status: 200, servedBy: 'baseline', ms: Number })
  t.match(access[1], { route: undefined, method: 'GET', path: '/nowhere', status: 404 })
  t.notMatch(JSON.stringify(lines()), 's3cret', 'no query string reaches the log')
})

t.test('log.requests: false writes no access line', async (t) => {
  const backend = await startBackend((_request, response) => json(response, 200, {}))
  t.teardown(backend.close)
  const { logger, lines } = memoryLogger('info')
  const gateway = await startTestShadowramp({
    log: { requests: false },
    routes: [{ name: 'products', paths: ['/products'], baseline: { url: backend.url }, candidate: { url: backend.url }, percentage: 0 }]
  }, { logger })
  t.teardown(gateway.close)

  await (await request(`${gateway.gatewayUrl}/products`)).body.dump()
  t.same(lines().filter((line) => line.msg === 'request completed'), [])
})
