import t from 'tap'
import { request } from 'undici'
import { BackendHealthLog, failuresToWarn } from '../../src/gateway/backend-health-log.js'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { json, startBackend } from '../helpers/http.js'

t.test('one warn when a backend starts failing and one info when it answers again, however long it fails', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const health = new BackendHealthLog('products', logger)

  for (let attempt = 1; attempt < failuresToWarn; attempt++) health.attempted('candidate', true)
  t.same(lines(), [], `${failuresToWarn - 1} failures in a row say nothing yet`)
  health.fellBack('candidate', 'refused')
  health.attempted('candidate', true)
  for (let attempt = 0; attempt < 50; attempt++) health.attempted('candidate', true)
  health.attempted('candidate', false)
  health.attempted('candidate', false)

  t.match(lines(), [
    { level: 40, route: 'products', backend: 'candidate', failures: failuresToWarn, reason: 'refused', msg: /candidate failed 5 live requests in a row \(latest: refused\)/ },
    { level: 30, route: 'products', backend: 'candidate', failures: failuresToWarn + 50, msg: /candidate answers again after 55 failed live requests/ }
  ])
  t.equal(lines().length, 2, 'nothing per request')
})

t.test('a success between failures starts the count again, and each backend has its own', async (t) => {
  const { logger, lines } = memoryLogger('info')
  const health = new BackendHealthLog('products', logger)

  for (let attempt = 1; attempt < failuresToWarn; attempt++) health.attempted('candidate', true)
  health.attempted('candidate', false)
  for (let attempt = 1; attempt < failuresToWarn; attempt++) health.attempted('candidate', true)
  for (let attempt = 1; attempt < failuresToWarn; attempt++) health.attempted('baseline', true)
  t.same(lines(), [], 'never five in a row of one backend')

  health.attempted('baseline', true)
  t.match(lines(), [{ level: 40, backend: 'baseline' }])
})

t.test('a gateway whose candidate returns 503 logs it once, and once more when it recovers', async (t) => {
  let failing = true
  const baseline = await startBackend((_request, response) => json(response, 200, { from: 'baseline' }))
  const candidate = await startBackend((_request, response) => json(response, failing ? 503 : 200, { from: 'candidate' }))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const { logger, lines } = memoryLogger('info')
  const gateway = await startTestShadowramp({
    routes: [{ name: 'products', paths: ['/products'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 100 }]
  }, { logger })
  t.teardown(gateway.close)
  const send = async (): Promise<string> => {
    const response = await request(`${gateway.gatewayUrl}/products`)
    await response.body.dump()
    return String(response.headers['x-served-by'])
  }

  const servedWhileFailing = []
  for (let index = 0; index < 12; index++) servedWhileFailing.push(await send())
  failing = false
  const servedAfter = await send()

  t.ok(servedWhileFailing.every((servedBy) => servedBy === 'baseline'), 'the baseline served every request while the candidate failed')
  t.equal(servedAfter, 'candidate')
  const health = lines().filter((line) => line.backend === 'candidate' && typeof line.failures === 'number')
  t.match(health, [
    { level: 40, route: 'products', reason: 'status', msg: /candidate failed 5 live requests in a row/ },
    { level: 30, route: 'products', failures: 12, msg: /candidate answers again after 12 failed live requests/ }
  ])
  t.equal(health.length, 2)
})
