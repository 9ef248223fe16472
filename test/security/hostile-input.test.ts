import { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { json, rawRequest, startBackend, type TestBackend } from '../helpers/http.js'

async function guardedGateway (t: Test, limits: Record<string, unknown> = {}): Promise<{ gateway: Awaited<ReturnType<typeof startTestShadowramp>>, backend: TestBackend, lines: ReturnType<typeof memoryLogger>['lines'] }> {
  const backend = await startBackend((request, response) => json(response, 200, { path: request.url }))
  const { logger, lines } = memoryLogger('info')
  const gateway = await startTestShadowramp({
    limits,
    maxRequestBodyBytes: 64 * 1024,
    routes: [{ name: 'api', paths: ['/api/*'], baseline: { url: backend.url }, candidate: { url: backend.url }, percentage: 0 }]
  }, { logger })
  t.teardown(async () => { await gateway.close(); await backend.close() })
  return { gateway, backend, lines }
}

async function metric (adminUrl: string, pattern: RegExp): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text()
  return Number(pattern.exec(text)?.[1] ?? 0)
}

/** Sends the head slowly, a byte at a time; resolves with what the server answered and when it closed. */
async function slowHead (url: string, everyMs: number): Promise<{ answer: string, closedAfterMs: number }> {
  const { hostname, port } = new URL(url)
  const head = 'GET /api/slow HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200)
  return await new Promise((resolve) => {
    const socket = new Socket()
    const started = performance.now()
    let answer = ''
    let sent = 0
    const timer = setInterval(() => { if (sent < head.length && !socket.destroyed) socket.write(head[sent++] ?? '') }, everyMs)
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
    socket.on('close', () => { clearInterval(timer); resolve({ answer, closedAfterMs: performance.now() - started }) })
    socket.on('error', () => {})
    socket.connect(Number(port), hostname)
  })
}

t.test('an oversized request head gets 431 and a log line, and reaches no backend', async (t) => {
  const { gateway, backend, lines } = await guardedGateway(t)
  const answer = await rawRequest(gateway.gatewayUrl, `GET /api/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)

  t.match(answer, /^HTTP\/1\.1 431 /)
  t.match(answer, /"code":"SR_ERR_CLIENT_HEADER_TOO_LARGE"/)
  t.equal(backend.requests.length, 0)
  t.ok(lines().some((line) => line.kind === 'header-too-large' && line.msg === 'refused a request: the request head is larger than allowed'))
  t.equal(await metric(gateway.adminUrl, /shadowramp_client_errors_total\{kind="header-too-large"\} (\d+)/), 1)
})

t.test('an oversized body gets 413, is counted, and reaches no backend', async (t) => {
  const { gateway, backend, lines } = await guardedGateway(t)
  const response = await request(`${gateway.gatewayUrl}/api/upload`, { method: 'POST', body: Buffer.alloc(100 * 1024, 'x'), headers: { 'content-type': 'application/json' } })
  const body = await response.body.json() as { code: string }

  t.equal(response.statusCode, 413)
  t.same(body, { code: 'SR_ERR_BODY_TOO_LARGE', error: 'the request body is larger than the 65536 bytes allowed (maxRequestBodyBytes)' })
  t.equal(backend.requests.length, 0)
  t.ok(lines().some((line) => line.kind === 'body-too-large' && line.level === 30))
  t.equal(await metric(gateway.adminUrl, /shadowramp_client_errors_total\{kind="body-too-large"\} (\d+)/), 1)
})

t.test('a path whose %-escape does not decode gets 400 without the URL echoed, and is counted', async (t) => {
  const { gateway, backend, lines } = await guardedGateway(t)
  const response = await request(`${gateway.gatewayUrl}/api/%ZZ?token=s3cret`)
  const text = await response.body.text()

  t.equal(response.statusCode, 400)
  t.same(JSON.parse(text), { code: 'SR_ERR_BAD_PATH', error: 'the request path is not allowed: it holds a %-escape that does not decode' })
  t.notMatch(text, 's3cret', 'the answer does not repeat the query')
  t.notMatch(JSON.stringify(lines()), 's3cret', 'nor does the log')
  t.equal(backend.requests.length, 0)
  t.equal(await metric(gateway.adminUrl, /shadowramp_client_errors_total\{kind="bad-url"\} (\d+)/), 1)
})

t.test('request smuggling: a body framed by both Content-Length and Transfer-Encoding is refused', async (t) => {
  const { gateway, backend, lines } = await guardedGateway(t)
  const smuggled = 'POST /api/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/admin HTTP/1.1\r\nHost: x\r\n\r\n'
  const answer = await rawRequest(gateway.gatewayUrl, smuggled)

  t.match(answer, /^HTTP\/1\.1 400 /)
  t.notMatch(answer, /HTTP\/1\.1 200/, 'the smuggled second request was not served')
  t.equal(backend.requests.length, 0, 'neither request reached a backend')
  t.ok(lines().some((line) => line.msg === 'refused a request: the request frames its body two ways (Content-Length and Transfer-Encoding) or badly' || line.kind === 'malformed'))

  const doubled = await rawRequest(gateway.gatewayUrl, 'POST /api/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\nabc')
  t.match(doubled, /^HTTP\/1\.1 400 /, 'two different Content-Lengths are refused too')
  t.equal(backend.requests.length, 0)
})

t.test('a slow-loris client is cut off once its head is late', async (t) => {
  const { gateway, backend } = await guardedGateway(t, { headersTimeoutMs: 1_000 })
  const { answer, closedAfterMs } = await slowHead(gateway.gatewayUrl, 100)

  t.ok(closedAfterMs < 4_000, `closed after ${closedAfterMs.toFixed(0)} ms, the head being due in 1,000 ms`)
  t.match(answer, /^HTTP\/1\.1 408 /)
  t.equal(backend.requests.length, 0)
  t.equal(await metric(gateway.adminUrl, /shadowramp_client_errors_total\{kind="request-timeout"\} (\d+)/), 1)
})

t.test('a body that trickles in is cut off with 408', async (t) => {
  const { gateway, backend } = await guardedGateway(t, { requestTimeoutMs: 1_000, headersTimeoutMs: 1_000 })
  const { hostname, port } = new URL(gateway.gatewayUrl)
  const started = performance.now()
  const answer = await new Promise<string>((resolve) => {
    const socket = new Socket()
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.on('close', () => resolve(text))
    socket.on('error', () => {})
    socket.connect(Number(port), hostname, () => {
      socket.write('POST /api/b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":')
    })
  })

  t.match(answer, /^HTTP\/1\.1 408 /)
  t.ok(performance.now() - started < 4_000)
  t.equal(backend.requests.length, 0)
})

t.test('a garbage request line is refused, and the gateway keeps serving', async (t) => {
  const { gateway } = await guardedGateway(t)
  for (const garbage of ['\u0000\u0001\u0002 nonsense\r\n\r\n', 'GET /api/x HTTP/9.9\r\n\r\n', 'GET /api/%ZZ%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'G\u00e9T /api/x HTTP/1.1\r\n\r\n']) {
    const answer = await rawRequest(gateway.gatewayUrl, garbage)
    t.match(answer, /^HTTP\/1\.1 (400|404|505) /, JSON.stringify(garbage))
  }
  const fine = await request(`${gateway.gatewayUrl}/api/still-up`)
  t.equal(fine.statusCode, 200)
  await fine.body.dump()
})

t.test('no admin route answers on the public port', async (t) => {
  const { gateway, backend } = await guardedGateway(t)
  for (const path of ['/healthz', '/readyz', '/metrics', '/api/routes', '/api/openapi.json', '/ui', '/api/alerts/alertmanager']) {
    const response = await request(`${gateway.gatewayUrl}${path}`, { method: path.includes('alerts') ? 'POST' : 'GET', body: path.includes('alerts') ? '{}' : undefined })
    const text = await response.body.text()
    // /api/* is a configured live route here: it goes to the backend, never to the admin side.
    if (path.startsWith('/api/')) {
      t.equal(response.headers['x-served-by'], 'baseline', `${path} is live traffic on this listener`)
      t.same(JSON.parse(text), { path }, `${path} answered by the backend, not the admin API`)
    } else {
      t.equal(response.statusCode, 404, `${path} is not served here`)
      t.match(JSON.parse(text), { code: 'SR_ERR_NO_ROUTE' })
    }
  }
  t.equal(backend.requests.length, 3)
})
