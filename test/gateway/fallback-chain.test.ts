import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { closedPort, json, rawRequest, startBackend, type TestBackend } from '../helpers/http.js'
import { startTestShadowramp } from '../helpers/gateway.js'
import { tempDir } from '../helpers/temp-dir.js'

async function get (base: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const response = await request(base + path, { method: method as 'GET', headers, body })
  const text = await response.body.text()
  return { status: response.statusCode, headers: response.headers, text }
}

async function twoBackends (t: Test, candidate: (request: { url: string, method: string }, response: import('node:http').ServerResponse) => void): Promise<{ baseline: TestBackend, candidate: TestBackend }> {
  const baseline = await startBackend((request, response) => json(response, 200, { from: 'baseline', path: request.url }))
  const candidateBackend = await startBackend(candidate)
  t.teardown(async () => { await baseline.close(); await candidateBackend.close() })
  return { baseline, candidate: candidateBackend }
}

function route (baseline: string, candidate: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'products',
    paths: ['/products', '/products/*'],
    baseline: { url: baseline, timeoutMs: 2_000 },
    candidate: { url: candidate, timeoutMs: 300 },
    percentage: 100,
    ...extra
  }
}

t.test('a healthy candidate at 100% serves and says so', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (request, response) => json(response, 200, { from: 'candidate', path: request.url }))
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/7?fields=name')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'candidate')
  t.same(JSON.parse(answer.text), { from: 'candidate', path: '/products/7?fields=name' })
  t.equal(baseline.requests.length, 0, 'the baseline was not asked')
})

t.test('candidate 500 → the same request goes to the baseline', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => json(response, 500, { oops: true }))
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/1')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'baseline')
  t.same(JSON.parse(answer.text), { from: 'baseline', path: '/products/1' })
  t.equal(candidate.requests.length, 1)
  t.equal(baseline.requests.length, 1)

  const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
  t.match(metrics, /shadowramp_fallbacks_total\{route="products",from="candidate",reason="status"\} 1/)
})

t.test('a configured status (429) also moves on, and 4xx otherwise does not', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (request, response) => json(response, request.url.includes('busy') ? 429 : 404, {}))
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url, { failOnStatus: [429] })] })
  t.teardown(gateway.close)

  t.equal((await get(gateway.gatewayUrl, '/products/busy')).headers['x-served-by'], 'baseline')
  const missing = await get(gateway.gatewayUrl, '/products/missing')
  t.equal(missing.status, 404)
  t.equal(missing.headers['x-served-by'], 'candidate', 'a 404 is an answer, not a failure')
})

t.test('candidate timeout → baseline', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => { setTimeout(() => json(response, 200, { late: true }), 1_500) })
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/2')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'baseline')
})

t.test('candidate refusing connections → baseline, for GET and for POST', async (t) => {
  const baseline = await startBackend((request, response) => json(response, 201, { from: 'baseline', body: request.body.toString() }))
  t.teardown(baseline.close)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, refused)] })
  t.teardown(gateway.close)

  t.equal((await get(gateway.gatewayUrl, '/products')).headers['x-served-by'], 'baseline')
  const posted = await get(gateway.gatewayUrl, '/products', { 'content-type': 'application/json' }, 'POST', '{"name":"lamp"}')
  t.equal(posted.status, 201)
  t.equal(posted.headers['x-served-by'], 'baseline', 'the candidate never received it, so moving on is safe')
  t.same(JSON.parse(posted.text), { from: 'baseline', body: '{"name":"lamp"}' }, 'the body reaches the baseline intact')
})

t.test('a POST that timed out at the candidate is not sent again', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => { setTimeout(() => json(response, 201, {}), 1_000) })
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products', { 'content-type': 'application/json' }, 'POST', '{"name":"lamp"}')
  t.equal(answer.status, 504)
  t.equal(JSON.parse(answer.text).code, 'SR_ERR_UPSTREAM_TIMEOUT')
  t.equal(candidate.requests.length, 1)
  t.equal(baseline.requests.length, 0, 'the baseline never saw the POST')
})

t.test('a POST answered 500 by the candidate is returned, not repeated', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => json(response, 500, { failed: 'write' }))
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products', { 'content-type': 'application/json' }, 'POST', '{}')
  t.equal(answer.status, 500)
  t.equal(answer.headers['x-served-by'], 'candidate')
  t.equal(baseline.requests.length, 0)
})

t.test('both backends down → the static fallback file', async (t) => {
  const file = join(tempDir(t, 'sr-fallback-'), 'fallback.json')
  writeFileSync(file, '{"products":[],"fallback":true}')
  const down = `http://127.0.0.1:${await closedPort()}`
  const gateway = await startTestShadowramp({
    routes: [route(down, down, { fallback: { static: { file } } })]
  })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'fallback')
  t.equal(answer.headers['x-fallback-source'], 'static')
  t.same(JSON.parse(answer.text), { products: [], fallback: true })
})

t.test('both backends down → a static URL (a CDN copy)', async (t) => {
  const cdn = await startBackend((_request, response) => json(response, 200, { cdn: true }))
  t.teardown(cdn.close)
  const down = `http://127.0.0.1:${await closedPort()}`
  const gateway = await startTestShadowramp({
    routes: [route(down, down, { fallback: { static: { url: `${cdn.url}/products.json` } } })]
  })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/3')
  t.equal(answer.headers['x-served-by'], 'fallback')
  t.same(JSON.parse(answer.text), { cdn: true })
  t.equal(cdn.requests[0]?.url, '/products.json')
})

t.test('both backends failing → the last good response for that path', async (t) => {
  let healthy = true
  const baseline = await startBackend((request, response) => healthy ? json(response, 200, { path: request.url, n: 1 }) : json(response, 503, {}))
  const candidate = await startBackend((_request, response) => json(response, 500, {}))
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const gateway = await startTestShadowramp({
    routes: [route(baseline.url, candidate.url, { fallback: { lastGood: { maxEntries: 10 } } })]
  })
  t.teardown(gateway.close)

  t.equal((await get(gateway.gatewayUrl, '/products/5')).headers['x-served-by'], 'baseline')
  healthy = false
  const answer = await get(gateway.gatewayUrl, '/products/5')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'fallback')
  t.equal(answer.headers['x-fallback-source'], 'last-good')
  t.same(JSON.parse(answer.text), { path: '/products/5', n: 1 })

  const other = await get(gateway.gatewayUrl, '/products/6')
  t.equal(other.status, 503, 'a path never seen has no copy: the baseline\'s own failure is returned')
  t.equal(other.headers['x-served-by'], 'baseline')
})

t.test('both down without fallback content → a clear 502', async (t) => {
  const down = `http://127.0.0.1:${await closedPort()}`
  const gateway = await startTestShadowramp({ routes: [route(down, down)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products')
  t.equal(answer.status, 502)
  t.equal(answer.headers['x-served-by'], 'fallback')
  t.match(JSON.parse(answer.text), { code: 'SR_ERR_UPSTREAM_REFUSED', error: /baseline refused/ })
})

t.test('the forced-backend header picks a backend for testers, only when enabled', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => json(response, 200, { from: 'candidate' }))
  const enabled = await startTestShadowramp({
    forceHeader: { enabled: true, name: 'x-force' },
    routes: [route(baseline.url, candidate.url, { percentage: 0 })]
  })
  t.teardown(enabled.close)
  const disabled = await startTestShadowramp({ routes: [route(baseline.url, candidate.url, { percentage: 0 })] })
  t.teardown(disabled.close)

  t.equal((await get(enabled.gatewayUrl, '/products', { 'x-force': 'candidate' })).headers['x-served-by'], 'candidate')
  t.equal((await get(enabled.gatewayUrl, '/products', { 'x-force': 'nonsense' })).headers['x-served-by'], 'baseline')
  t.equal((await get(disabled.gatewayUrl, '/products', { 'x-shadowramp-backend': 'candidate' })).headers['x-served-by'], 'baseline')
})

t.test('hop-by-hop headers are dropped both ways; X-Forwarded-* are set', async (t) => {
  const baseline = await startBackend((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, x-upstream-private', 'x-upstream-private': 'secret', 'keep-alive': 'timeout=5', 'x-kept': 'yes' })
    response.end('{}')
  })
  t.teardown(baseline.close)
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, baseline.url, { percentage: 0 })] })
  t.teardown(gateway.close)

  const host = new URL(gateway.gatewayUrl).host
  const raw = await rawRequest(gateway.gatewayUrl, [
    'GET /products HTTP/1.1', `Host: ${host}`, 'Connection: close, x-client-private', 'X-Client-Private: drop me',
    'TE: trailers', 'Proxy-Authorization: Basic abc', 'X-Forwarded-For: 203.0.113.9', 'X-Kept: yes', '', ''
  ].join('\r\n'))
  const answer = { headers: parseRawHeaders(raw) }
  const received = baseline.requests[0]?.headers ?? {}
  t.equal(received['x-client-private'], undefined, 'a header named in Connection is not forwarded')
  t.equal(received.te, undefined)
  t.equal(received['proxy-authorization'], undefined)
  t.equal(received['x-kept'], 'yes')
  t.equal(received['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  t.equal(received['x-forwarded-proto'], 'http')
  t.match(received['x-forwarded-host'], /^127\.0\.0\.1:\d+$/)
  t.equal(received.host, `127.0.0.1:${baseline.port}`, 'the backend gets the Host it expects')
  t.equal(answer.headers['x-upstream-private'], undefined)
  t.equal(answer.headers['keep-alive'] === 'timeout=5', false, 'the backend\'s keep-alive is not passed on')
  t.equal(answer.headers['x-kept'], 'yes')
})

t.test('an absolute-URI request line or a forged Host never reaches another host', async (t) => {
  const baseline = await startBackend((request, response) => json(response, 200, { path: request.url }))
  const elsewhere = await startBackend((_request, response) => json(response, 200, { elsewhere: true }))
  t.teardown(async () => { await baseline.close(); await elsewhere.close() })
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, baseline.url, { percentage: 0 })] })
  t.teardown(gateway.close)

  const raw = await rawRequest(gateway.gatewayUrl,
    `GET ${elsewhere.url}/products/9 HTTP/1.1\r\nHost: 127.0.0.1:${elsewhere.port}\r\nConnection: close\r\n\r\n`)
  t.match(raw, /^HTTP\/1\.1 200/)
  t.match(raw, /"path":"\/products\/9"/, 'routed by its path to the configured baseline')

  const forged = await get(gateway.gatewayUrl, '/products/10', { host: `127.0.0.1:${elsewhere.port}` })
  t.equal(forged.status, 200)
  t.equal(elsewhere.requests.length, 0, 'the other host received nothing')
  t.equal(baseline.requests.length, 2)
})

t.test('paths that climb out with dot segments are refused', async (t) => {
  const baseline = await startBackend((_request, response) => json(response, 200, {}))
  t.teardown(baseline.close)
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, baseline.url)] })
  t.teardown(gateway.close)

  for (const path of ['/products/../admin', '/products/%2e%2e/admin', '/products/..%5cadmin', '/products/.', '/products/..%2fadmin', '/products/1%2F..%2F..%2Fetc', '/products/%2E%2e%2Fadmin']) {
    const raw = await rawRequest(gateway.gatewayUrl, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    t.match(raw, /^HTTP\/1\.1 400/, path)
    t.match(raw, /"code":"SR_ERR_BAD_PATH"/)
  }
  t.equal((await get(gateway.gatewayUrl, '/orders')).status, 404, 'a path no route names is 404')
  t.equal(baseline.requests.length, 0)

  t.equal((await get(gateway.gatewayUrl, '/products/a%2Fb..c')).status, 200, 'an encoded slash alone, or dots inside a segment, pass')
  t.equal(baseline.requests.length, 1)
})

t.test('bodies are streamed intact in both directions', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 'x')
  const baseline = await startBackend((request, response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream' })
    response.write(request.body)
    response.end(big)
  })
  t.teardown(baseline.close)
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, baseline.url, { percentage: 0 })] })
  t.teardown(gateway.close)

  const sent = Buffer.from(JSON.stringify({ name: 'ü'.repeat(1000) }))
  const response = await request(`${gateway.gatewayUrl}/products`, { method: 'PUT', body: sent, headers: { 'content-type': 'application/json' } })
  const received = Buffer.from(await response.body.arrayBuffer())
  t.equal(received.length, sent.length + big.length)
  t.ok(received.subarray(0, sent.length).equals(sent), 'the request body arrived byte for byte')
  t.equal(baseline.requests[0]?.headers['content-length'], String(sent.length))
})

function parseRawHeaders (raw: string): Record<string, string> {
  const head = raw.split('\r\n\r\n')[0] ?? ''
  const headers: Record<string, string> = {}
  for (const line of head.split('\r\n').slice(1)) {
    const separator = line.indexOf(':')
    headers[line.slice(0, separator).trim().toLowerCase()] = line.slice(separator + 1).trim()
  }
  return headers
}

t.test('a candidate that breaks off mid-body is replaced by the baseline', async (t) => {
  const { baseline, candidate } = await twoBackends(t, (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    response.write('{"items":[1,2,')
    setTimeout(() => response.socket?.destroy(), 20)
  })
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url)] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/4')
  t.equal(answer.status, 200)
  t.equal(answer.headers['x-served-by'], 'baseline')
  t.same(JSON.parse(answer.text), { from: 'baseline', path: '/products/4' })
  const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
  t.match(metrics, /shadowramp_fallbacks_total\{route="products",from="candidate",reason="reset"\} 1/)
})

t.test('a candidate answer larger than the buffer streams, and is served by the candidate', async (t) => {
  const big = JSON.stringify({ filler: 'x'.repeat(300_000) })
  const { baseline, candidate } = await twoBackends(t, (_request, response) => json(response, 200, JSON.parse(big)))
  const gateway = await startTestShadowramp({ routes: [route(baseline.url, candidate.url, { bufferCandidateBytes: 64 * 1024 })] })
  t.teardown(gateway.close)

  const answer = await get(gateway.gatewayUrl, '/products/5')
  t.equal(answer.headers['x-served-by'], 'candidate')
  t.equal(answer.text, big, 'the whole body, the buffered part and the rest')
})
