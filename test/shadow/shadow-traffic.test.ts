import { gunzipSync, gzipSync } from 'node:zlib'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { waitFor } from '../helpers/admin-api.js'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { json, startBackend, type BackendHandler, type TestBackend } from '../helpers/http.js'
import { readQueuedPairs, waitForPairs } from '../helpers/pairs.js'
import { stopProcess } from '../helpers/process.js'
import { adminConnection, dropNamespace, privateRedis, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'
import { createKeys } from '../../src/store/keys.js'
import { readShadowGuards, writeShadowGuard } from '../../src/store/shadow-guard.js'

async function backends (t: Test, baseline: BackendHandler, candidate: BackendHandler): Promise<{ baseline: TestBackend, candidate: TestBackend }> {
  const pair = { baseline: await startBackend(baseline), candidate: await startBackend(candidate) }
  t.teardown(async () => { await pair.baseline.close(); await pair.candidate.close() })
  return pair
}

function answerAs (name: string): BackendHandler {
  return (request, response) => json(response, 200, { from: name, path: request.url })
}

async function mirroredGateway (t: Test, urls: { baseline: string, candidate: string }, route: Record<string, unknown> = {}, redisUrl?: string, config: Record<string, unknown> = {}) {
  const url = redisUrl ?? await testRedisUrl()
  const namespace = uniqueNamespace('shadow')
  const gateway = await startTestShadowramp({
    ...config,
    redis: { url, namespace },
    routes: [{
      name: 'products',
      paths: ['/products', '/products/:id'],
      baseline: { url: urls.baseline },
      candidate: { url: urls.candidate },
      percentage: 0,
      mirror: { noiseSampleRate: 0 },
      ...route
    }]
  }, { redisUrl: url })
  t.teardown(async () => {
    await gateway.close()
    if (redisUrl === undefined) await dropNamespace(url, namespace)
  })
  return { gateway, namespace, redisUrl: url }
}

async function send (base: string, path: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, text: string, servedBy: unknown }> {
  const response = await request(base + path, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body })
  return { status: response.statusCode, text: await response.body.text(), servedBy: response.headers['x-served-by'] }
}

async function metricValue (adminUrl: string, pattern: RegExp): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text()
  const match = pattern.exec(text)
  return match === null ? 0 : Number(match[1])
}

t.test('at 100% every GET gives exactly one pair with both bodies, shadowed to the other backend', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })

  for (let index = 0; index < 40; index++) await send(gateway.gatewayUrl, `/products/${index}`, { headers: { 'x-user-id': `u${index}` } })
  const pairs = await waitForPairs(redisUrl, namespace, 40)
  await new Promise((resolve) => setTimeout(resolve, 200))

  t.equal((await readQueuedPairs(redisUrl, namespace)).length, 40, 'one pair per request, none twice')
  t.equal(new Set(pairs.map((pair) => pair.id)).size, 40)
  const first = pairs.find((pair) => pair.request.path === '/products/7')
  t.equal(first?.live, 'baseline')
  t.same(JSON.parse(first?.baseline.body?.toString() ?? 'null'), { from: 'baseline', path: '/products/7' })
  t.same(JSON.parse(first?.candidate.body?.toString() ?? 'null'), { from: 'candidate', path: '/products/7' })
  t.equal(first?.bodiesIdentical, false)
  t.equal(urls.candidate.requests.length, 40, 'the candidate got every shadow request')
  t.equal(urls.candidate.requests[0]?.headers['x-shadow-request'], '1', 'marked as shadow')
  t.equal(urls.candidate.requests[0]?.headers.host, `127.0.0.1:${urls.candidate.port}`, 'with the Host its upstream expects')
  t.equal(urls.candidate.requests[0]?.headers['x-shadowramp-request-id'], urls.baseline.requests[0]?.headers['x-request-id'], 'and the live request\'s id')
})

t.test('at 100% percentage the shadow goes to the baseline instead', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, { percentage: 100 })

  for (let index = 0; index < 5; index++) t.equal((await send(gateway.gatewayUrl, '/products')).servedBy, 'candidate')
  const pairs = await waitForPairs(redisUrl, namespace, 5)
  t.equal(pairs.length, 5)
  t.ok(pairs.every((pair) => pair.live === 'candidate' && pair.baseline.status === 200 && pair.baseline.body !== undefined))
  t.equal(urls.baseline.requests.length, 5)
})

t.test('byte-identical answers are queued without their bodies', async (t) => {
  const same: BackendHandler = (request, response) => json(response, 200, { path: request.url })
  const urls = await backends(t, same, same)
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })

  for (let index = 0; index < 10; index++) await send(gateway.gatewayUrl, '/products/1')
  const pairs = await waitForPairs(redisUrl, namespace, 10)
  t.equal(pairs.length, 10)
  t.ok(pairs.every((pair) => pair.bodiesIdentical && pair.baseline.body === undefined && pair.candidate.body === undefined))
  t.ok(pairs.every((pair) => pair.baseline.bodyBytes === pair.candidate.bodyBytes && pair.baseline.bodyBytes > 0))
})

t.test('answers that differ in a few places are queued as their differences and read back whole', async (t) => {
  // A page of 400 items, the candidate's with one price changed.
  const page = (id: string, side: string): string => JSON.stringify({
    page: id,
    items: Array.from({ length: 400 }, (_, index) => ({ id: index, name: `item ${index}`, price: side === 'candidate' && index === 120 ? 9.99 : 10 }))
  })
  const served = (side: string): BackendHandler => (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(page(request.url ?? '', side))
  }
  const urls = await backends(t, served('baseline'), served('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })

  for (let index = 0; index < 10; index++) await send(gateway.gatewayUrl, `/products/${index}`)
  const pairs = await waitForPairs(redisUrl, namespace, 10)
  t.equal(pairs.length, 10)
  for (const pair of pairs) {
    const path = pair.request.path
    t.equal(pair.baseline.body?.toString(), page(path, 'baseline'), `${path}: the baseline's body as it served it`)
    t.equal(pair.candidate.body?.toString(), page(path, 'candidate'), `${path}: the candidate's too`)
  }

  // What Redis holds: each pair's baseline body whole, the candidate's as
  // its differences, so well under both bodies.
  const admin = adminConnection(t, redisUrl)
  const batches = await admin.keys(`${createKeys(namespace).pairBatch('*')}`)
  let stored = 0
  for (const key of batches) stored += await admin.strlen(key)
  const bodies = pairs.reduce((sum, pair) => sum + pair.baseline.bodyBytes + pair.candidate.bodyBytes, 0)
  t.ok(stored < bodies * 0.6, `${stored} bytes stored for ${bodies} bytes of bodies`)

  const candidateBytes = pairs.reduce((sum, pair) => sum + pair.candidate.bodyBytes, 0)
  const saved = await metricValue(gateway.adminUrl, /shadowramp_pair_body_bytes_saved_total\{route="products"\} (\d+)/)
  t.ok(saved > candidateBytes * 0.9 && saved < candidateBytes, `the metric counts ${saved} of the candidate's ${candidateBytes} bytes as saved`)
})

t.test('a mirrored route\'s counters exist at 0 before its first pair', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })
  const text = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
  for (const name of ['pairs_captured_total', 'pairs_enqueued_total', 'pairs_bodies_identical_total', 'pairs_too_large_total', 'pair_body_bytes_saved_total']) {
    t.match(text, new RegExp(`^shadowramp_${name}\\{route="products"\\} 0$`, 'm'), name)
  }
})

t.test('at 10%, 1,000 requests give 100 ± 30 pairs', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, { mirror: { sampleRate: 10, noiseSampleRate: 0 } })

  const batch = async (from: number): Promise<void> => {
    await Promise.all(Array.from({ length: 50 }, async (_v, index) => await send(gateway.gatewayUrl, `/products/${from + index}`)))
  }
  for (let from = 0; from < 1_000; from += 50) await batch(from)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const pairs = await readQueuedPairs(redisUrl, namespace)
  t.ok(pairs.length >= 70 && pairs.length <= 130, `${pairs.length} pairs`)
  t.equal(urls.candidate.requests.length, pairs.length, 'a shadow request for each pair and no more')
})

t.test('POST is not mirrored unless listed; when listed its body reaches both legs intact', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const unlisted = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })
  const body = JSON.stringify({ name: 'lamp', note: 'é'.repeat(3_000) })

  await send(unlisted.gateway.gatewayUrl, '/products', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(urls.candidate.requests.length, 0, 'the candidate never saw the POST')
  t.equal((await readQueuedPairs(unlisted.redisUrl, unlisted.namespace)).length, 0)

  const listed = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, { mirror: { methods: ['GET', 'POST'], noiseSampleRate: 0 } })
  await send(listed.gateway.gatewayUrl, '/products', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  const [pair] = await waitForPairs(listed.redisUrl, listed.namespace, 1)
  t.equal(urls.candidate.requests.at(-1)?.body.toString(), body, 'the shadow leg got the whole body')
  t.equal(urls.baseline.requests.at(-1)?.body.toString(), body, 'and so did the live leg')
  t.equal(pair?.request.body?.toString(), body, 'the pair keeps the request body of a mirrored POST')
})

t.test('a shadow backend that sleeps 5 s leaves live latency where it was', async (t) => {
  const urls = await backends(t, answerAs('baseline'), (_request, response) => { setTimeout(() => json(response, 200, {}), 5_000) })
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, { mirror: { timeoutMs: 10_000, noiseSampleRate: 0 } })

  const latencies: number[] = []
  for (let index = 0; index < 30; index++) {
    const started = performance.now()
    const answer = await send(gateway.gatewayUrl, `/products/${index}`)
    latencies.push(performance.now() - started)
    t.equal(answer.status, 200)
  }
  const slowest = Math.max(...latencies)
  t.ok(slowest < 1_000, `the slowest live answer took ${slowest.toFixed(1)} ms, with every shadow answer 5 s away`)
  t.equal(urls.candidate.requests.length, 30, 'the shadow requests were all sent')
  t.equal((await readQueuedPairs(redisUrl, namespace)).length, 0, 'their pairs wait for the shadow answers')
})

t.test('with Redis stopped every live request is still answered, nothing more is mirrored, and every lost pair is counted', async (t) => {
  const { url: redisUrl, server } = await privateRedis(t)
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, {}, redisUrl)

  for (let index = 0; index < 20; index++) await send(gateway.gatewayUrl, `/products/${index}`)
  await new Promise((resolve) => setTimeout(resolve, 100))
  await stopProcess(server, 'SIGKILL')
  const shadowBefore = urls.candidate.requests.length
  const statuses: number[] = []
  for (let index = 0; index < 200; index++) statuses.push((await send(gateway.gatewayUrl, `/products/${index}`)).status)
  await new Promise((resolve) => setTimeout(resolve, 200))

  t.ok(statuses.every((status) => status === 200), 'every live request answered 200')
  const dropped = await metricValue(gateway.adminUrl, /shadowramp_pairs_dropped_total\{route="products",reason="redis-unreachable"\} (\d+)/)
  const skipped = await metricValue(gateway.adminUrl, /shadowramp_shadow_skipped_total\{route="products",reason="redis-unreachable"\} (\d+)/)
  const enqueued = await metricValue(gateway.adminUrl, /shadowramp_pairs_enqueued_total\{route="products"\} (\d+)/)
  t.ok(skipped >= 190, `${skipped} requests not mirrored, counted as skipped for redis-unreachable (and ${dropped} captured pairs dropped)`)
  t.ok(urls.candidate.requests.length - shadowBefore <= 10, `${urls.candidate.requests.length - shadowBefore} shadow requests sent while the pairs had nowhere to go`)
  t.equal(enqueued + dropped + skipped, 220, 'every sampled request was queued, or counted as dropped or skipped')
})

t.test('with Redis frozen, its connection open, mirroring stands aside once a PING goes unanswered, and resumes after', async (t) => {
  const { url: redisUrl, server } = await privateRedis(t)
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { logger, lines } = memoryLogger('info')
  const namespace = uniqueNamespace('frozen')
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'products', paths: ['/products/:id'], baseline: { url: urls.baseline.url }, candidate: { url: urls.candidate.url }, percentage: 0, mirror: { noiseSampleRate: 0 } }]
  }, { redisUrl, logger })
  t.teardown(gateway.close)
  await send(gateway.gatewayUrl, '/products/warm-up')
  await waitForPairs(redisUrl, namespace, 1)

  server.kill('SIGSTOP')
  const frozenAt = Date.now()
  const statuses = new Set<number>()
  let index = 0
  const skippedNow = async (): Promise<number> => await metricValue(gateway.adminUrl, /shadow_skipped_total\{route="products",reason="redis-unreachable"\} (\d+)/)
  while (Date.now() - frozenAt < 6_000 && await skippedNow() === 0) {
    statuses.add((await send(gateway.gatewayUrl, `/products/${index++}`)).status)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const standingAside = Date.now() - frozenAt
  const shadowBefore = urls.candidate.requests.length
  for (let more = 0; more < 20; more++) statuses.add((await send(gateway.gatewayUrl, `/products/${index++}`)).status)
  t.ok(standingAside < 5_000, `mirroring stood aside ${standingAside} ms after Redis stopped`)
  t.equal(urls.candidate.requests.length, shadowBefore, 'no shadow request while it stands aside')
  t.match(lines().find((line) => String(line.msg).startsWith('pair queue unreachable')), { level: 40 })

  server.kill('SIGCONT')
  t.ok(await waitFor(async () => {
    await send(gateway.gatewayUrl, '/products/again')
    return (await readQueuedPairs(redisUrl, namespace)).some((pair) => pair.request.path === '/products/again')
  }, 5_000) < 5_000, 'mirroring resumes once Redis answers')
  t.same([...statuses], [200], 'every live request answered')
  t.match(lines().find((line) => line.msg === 'pair queue reachable again'), { level: 30 })
})

t.test('with Redis paused the pending pairs stay within their bound and flow once it resumes', async (t) => {
  const { url: redisUrl, server } = await privateRedis(t)
  const big = JSON.stringify({ filler: 'x'.repeat(20_000) })
  const urls = await backends(t, (_q, response) => json(response, 200, { big, v: 1 }), (_q, response) => json(response, 200, { big, v: 2 }))
  const namespace = uniqueNamespace('paused')
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    shadow: { maxPendingBytes: 400_000, batchPairs: 4 },
    routes: [{ name: 'products', paths: ['/products/:id'], baseline: { url: urls.baseline.url }, candidate: { url: urls.candidate.url }, percentage: 0, mirror: { noiseSampleRate: 0 } }]
  }, { redisUrl })
  t.teardown(gateway.close)

  await send(gateway.gatewayUrl, '/products/warm-up')
  await waitForPairs(redisUrl, namespace, 1)
  server.kill('SIGSTOP')
  const slowest = { ms: 0 }
  for (let index = 0; index < 60; index++) {
    const started = performance.now()
    t.equal((await send(gateway.gatewayUrl, `/products/${index}`)).status, 200)
    slowest.ms = Math.max(slowest.ms, performance.now() - started)
  }
  const pending = await metricValue(gateway.adminUrl, /^shadowramp_shadow_pending_bytes (\d+)/m)
  const slowDrops = await metricValue(gateway.adminUrl, /pairs_dropped_total\{route="products",reason="redis-slow"\} (\d+)/)
  const slowSkips = await metricValue(gateway.adminUrl, /shadow_skipped_total\{route="products",reason="redis-slow"\} (\d+)/)
  t.ok(pending <= 400_000, `${pending} bytes pending, under the bound of 400,000`)
  t.ok(slowDrops > 0, `${slowDrops} pairs dropped when the bound was reached`)
  t.ok(slowSkips > 0, `then ${slowSkips} requests not mirrored while it stayed full, counted as skipped`)
  t.equal(urls.candidate.requests.length, 61 - slowSkips, 'a request skipped sends no shadow request')
  t.ok(slowest.ms < 1_000, `the slowest live answer took ${slowest.ms.toFixed(1)} ms while Redis was paused`)

  server.kill('SIGCONT')
  const kept = 61 - slowDrops - slowSkips
  const pairs = await waitForPairs(redisUrl, namespace, kept, 10_000)
  t.equal(pairs.length, kept, 'every pair kept in memory reached the queue once Redis resumed')
  await send(gateway.gatewayUrl, '/products/after')
  t.equal((await waitForPairs(redisUrl, namespace, kept + 1, 10_000)).length, kept + 1, 'and mirroring resumed once they left memory')
})

t.test('a pair larger than the whole pending bound is dropped alone, and mirroring goes on', async (t) => {
  // Each side fills with its own letter: the candidate's body shares
  // nothing with the baseline's and travels whole, 120 KB for the pair.
  const big = (version: number): string => JSON.stringify({ filler: (version === 1 ? 'x' : 'y').repeat(60_000), version })
  const urls = await backends(t,
    (request, response) => json(response, 200, request.url === '/products/big' ? big(1) : { v: 1 }),
    (request, response) => json(response, 200, request.url === '/products/big' ? big(2) : { v: 2 }))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url },
    { mirror: { noiseSampleRate: 0 } }, undefined, { shadow: { maxPendingBytes: 100_000 } })

  await send(gateway.gatewayUrl, '/products/big')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await metricValue(gateway.adminUrl, /pairs_dropped_total\{route="products",reason="larger-than-pending-bound"\} (\d+)/), 1,
    'the 120 KB pair does not fit a 100 KB bound, and Redis is not blamed')
  for (let index = 0; index < 5; index++) await send(gateway.gatewayUrl, `/products/${index}`)

  t.equal((await waitForPairs(redisUrl, namespace, 5)).length, 5, 'the pairs after it are mirrored and queued')
  t.equal(urls.candidate.requests.length, 6, 'each with its shadow request')
})

t.test('a pending bound smaller than three bodies at the cap is said at start', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const redisUrl = await testRedisUrl()
  const warningsWith = async (maxBodyBytes: number): Promise<Array<Record<string, unknown>>> => {
    const { logger, lines } = memoryLogger('warn')
    const namespace = uniqueNamespace('shadow')
    const gateway = await startTestShadowramp({
      redis: { url: redisUrl, namespace },
      shadow: { maxPendingBytes: 100_000, maxBodyBytes },
      routes: [{ name: 'products', paths: ['/products'], baseline: { url: urls.baseline.url }, candidate: { url: urls.candidate.url }, percentage: 0, mirror: {} }]
    }, { redisUrl, logger })
    await gateway.close()
    await dropNamespace(redisUrl, namespace)
    return lines().filter((line) => String(line.msg).startsWith('shadow.maxPendingBytes'))
  }

  const small = await warningsWith(40_000)
  t.equal(small.length, 1, 'told once')
  t.match(small[0], { level: 40, maxPendingBytes: 100_000, maxBodyBytes: 40_000, msg: /less than 3 bodies of shadow\.maxBodyBytes .*raise shadow\.maxPendingBytes/ })
  t.same(await warningsWith(33_000), [], 'three bodies of 33 KB fit 100 KB: nothing said')
})

t.test('while Redis refuses writes nothing is mirrored, and mirroring resumes once it takes them', async (t) => {
  const { url: redisUrl } = await privateRedis(t)
  const admin = adminConnection(t, redisUrl)
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway, namespace } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url },
    { mirror: { noiseSampleRate: 0 } }, redisUrl)
  await send(gateway.gatewayUrl, '/products/warm-up')
  await waitForPairs(redisUrl, namespace, 1)

  // Out of memory at once: every write is answered with an OOM error.
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.config('SET', 'maxmemory', '1')
  const shadowBefore = urls.candidate.requests.length
  for (let index = 0; index < 40; index++) {
    t.equal((await send(gateway.gatewayUrl, `/products/${index}`)).status, 200)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const refusedDrops = await metricValue(gateway.adminUrl, /pairs_dropped_total\{route="products",reason="redis-refused"\} (\d+)/)
  const refusedSkips = await metricValue(gateway.adminUrl, /shadow_skipped_total\{route="products",reason="redis-refused"\} (\d+)/)
  t.ok(refusedDrops >= 1, `${refusedDrops} pairs dropped as redis-refused, not as redis-slow`)
  t.ok(refusedSkips >= 20, `${refusedSkips} requests then not mirrored while Redis refused writes`)
  t.equal(urls.candidate.requests.length - shadowBefore, 40 - refusedSkips, 'a skipped request sends no shadow request')

  await admin.config('SET', 'maxmemory', '0')
  // Refused for a second at a time; then a batch finds Redis taking pairs again.
  t.ok(await waitFor(async () => {
    await send(gateway.gatewayUrl, '/products/again')
    return (await readQueuedPairs(redisUrl, namespace)).some((pair) => pair.request.path === '/products/again')
  }, 5_000) < 5_000, 'mirroring resumes by itself')
})

t.test('a failing shadow backend backs the rate off, and its recovery is told as news, not trouble', async (t) => {
  let failing = true
  const urls = await backends(t, answerAs('baseline'), (request, response) => {
    if (failing) { response.socket?.destroy(); return }
    json(response, 200, { from: 'candidate', path: request.url })
  })
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('shadow')
  const { logger, lines } = memoryLogger('info')
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'products', paths: ['/products/:id'], baseline: { url: urls.baseline.url }, candidate: { url: urls.candidate.url }, percentage: 0, mirror: { noiseSampleRate: 0 } }]
  }, { redisUrl, logger })
  t.teardown(async () => { await gateway.close(); await dropNamespace(redisUrl, namespace) })
  const factor = async (): Promise<number> => await metricValue(gateway.adminUrl, /shadowramp_shadow_rate_factor\{route="products"\} ([\d.e-]+)/)
  const statuses = new Set<number>()
  // Twenty live requests a second until the rate factor says `done`, or the time is up.
  const sendUntil = async (done: (factor: number) => boolean, timeoutMs: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs
    let index = 0
    while (Date.now() < deadline) {
      statuses.add((await send(gateway.gatewayUrl, `/products/${index++}`)).status)
      if (index % 10 === 0 && done(await factor())) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return await factor()
  }

  t.ok(await sendUntil((value) => value <= 0.25, 10_000) <= 0.25, 'backed off, halving after halving, while every shadow request is reset')
  failing = false
  t.equal(await sendUntil((value) => value === 1, 15_000), 1, 'back to the whole sample rate once the shadow answers')
  t.same([...statuses], [200], 'every live request answered by the baseline throughout')

  const told = lines().filter((line) => String(line.msg).startsWith('shadow rate of products'))
  t.match(told[0], { level: 40, factor: 0.5, msg: /at 50% of its sample rate: \d+ failed and 0 slow of \d+ shadow requests in the last \d\.\d s/ })
  t.match(told.at(-1), { level: 30, factor: 1, msg: 'shadow rate of products at 100% of its sample rate: shadow backend healthy again' })
  const levels = told.map((line, index) => [line.factor as number > ((told[index - 1]?.factor as number | undefined) ?? 1), line.level])
  t.same(levels.filter(([rise]) => rise === true).map(([, level]) => level), levels.filter(([rise]) => rise === true).map(() => 30), 'every rise is told at info')
  const falls = told.flatMap((line, index) => {
    const before = (told[index - 1]?.factor as number | undefined) ?? 1
    return (line.factor as number) < before ? [[before, line.level]] : []
  })
  t.ok(falls.length >= 2, `backed off more than once (${falls.length})`)
  t.same(falls.map(([, level]) => level), falls.map(([before]) => before === 1 ? 40 : 30), 'a fall from the whole rate at warn, each further halving at info')
})

t.test('a shadow that answers 5xx, or trickles its body past half its timeout, backs the rate off too', async (t) => {
  const factorAfterASecondOf = async (candidate: BackendHandler): Promise<number> => {
    const urls = await backends(t, answerAs('baseline'), candidate)
    const { gateway } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, { mirror: { noiseSampleRate: 0, timeoutMs: 2_000 } })
    for (let index = 0; index < 10; index++) t.equal((await send(gateway.gatewayUrl, `/products/${index}`)).status, 200)
    await new Promise((resolve) => setTimeout(resolve, 1_400))
    await send(gateway.gatewayUrl, '/products/judged')
    return await metricValue(gateway.adminUrl, /shadowramp_shadow_rate_factor\{route="products"\} ([\d.e-]+)/)
  }

  t.equal(await factorAfterASecondOf((_request, response) => json(response, 503, { error: 'overloaded' })), 0.5, 'every shadow answer a 503')
  t.equal(await factorAfterASecondOf((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{"items": [')
    setTimeout(() => response.end(']}'), 1_200)
  }), 0.5, 'every shadow body ending 1.2 s after its head, against a 2 s timeout')
  t.equal(await factorAfterASecondOf(answerAs('candidate')), 1, 'and a healthy shadow is left alone')
})

t.test('a gateway that stops takes its back-off out of the report', async (t) => {
  const urls = await backends(t, answerAs('baseline'), (_request, response) => json(response, 503, { error: 'overloaded' }))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })
  const redis = adminConnection(t, redisUrl)
  const keys = createKeys(namespace)
  // Another gateway, still running, whose back-off must stay in the report.
  const other = { factor: 0.25, reason: 'its own trouble', since: Date.now(), gateway: 'other-host:4242' }
  await writeShadowGuard(redis, keys, 'products', other)
  for (let index = 0; index < 10; index++) t.equal((await send(gateway.gatewayUrl, `/products/${index}`)).status, 200)
  await new Promise((resolve) => setTimeout(resolve, 1_100))
  await send(gateway.gatewayUrl, '/products/judged')
  await waitFor(async () => (await readShadowGuards(redis, keys, 'products')).length === 2, 2_000)
  t.equal((await readShadowGuards(redis, keys, 'products')).length, 2, 'this gateway reports its back-off beside the other')

  await gateway.close()

  t.same(await readShadowGuards(redis, keys, 'products'), [other], 'only the gateway still running is reported')
})

t.test('a gzip pair arrives as received and decodes', async (t) => {
  const gzipped = (name: string): BackendHandler => (_request, response) => {
    const body = gzipSync(JSON.stringify({ from: name, items: Array.from({ length: 50 }, (_v, id) => ({ id })) }))
    response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length })
    response.end(body)
  }
  const urls = await backends(t, gzipped('baseline'), gzipped('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })

  await send(gateway.gatewayUrl, '/products', { headers: { 'accept-encoding': 'gzip' } })
  const [pair] = await waitForPairs(redisUrl, namespace, 1)
  t.equal(pair?.baseline.headers['content-encoding'], 'gzip')
  t.same(JSON.parse(gunzipSync(pair?.baseline.body as Buffer).toString()).from, 'baseline')
  t.same(JSON.parse(gunzipSync(pair?.candidate.body as Buffer).toString()).from, 'candidate')
})

t.test('Authorization, Cookie, Set-Cookie and configured secrets never appear in a stored job', async (t) => {
  const secret = 'PLANTED-SECRET-7f3a'
  const withCookie: BackendHandler = (_request, response) => json(response, 200, { token: secret, ok: true, n: Math.random() }, { 'set-cookie': `sid=${secret}` })
  const urls = await backends(t, withCookie, withCookie)
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, {
    mirror: { methods: ['GET', 'POST'], redactFields: ['token', 'password'], redactHeaders: ['x-api-key'], captureHeaders: ['x-api-key'], noiseSampleRate: 0 }
  })

  const headers = { authorization: `Bearer ${secret}`, cookie: `sid=${secret}`, 'x-api-key': secret, 'content-type': 'application/json' }
  await send(gateway.gatewayUrl, '/products/1', { headers })
  await send(gateway.gatewayUrl, '/products', { method: 'POST', headers, body: JSON.stringify({ password: secret, name: 'x' }) })
  const pairs = await waitForPairs(redisUrl, namespace, 2)
  t.equal(pairs.length, 2)
  t.equal(urls.candidate.requests[0]?.headers.authorization, `Bearer ${secret}`, 'the shadow backend itself still gets the credentials')

  const redis = adminConnection(t, redisUrl)
  const keys = await redis.keys(`{${namespace}}*`)
  t.ok(keys.length > 0)
  for (const key of keys) {
    const type = await redis.type(key)
    const dump = type === 'string' ? (await redis.getBuffer(key))?.toString('latin1') : JSON.stringify(type === 'hash' ? await redis.hgetall(key) : type === 'list' ? await redis.lrange(key, 0, -1) : type === 'zset' ? await redis.zrange(key, 0, -1) : [])
    t.notMatch(dump ?? '', secret, `${key} holds no secret`)
  }
  const post = pairs.find((pair) => pair.request.method === 'POST')
  t.same(JSON.parse(post?.request.body?.toString() ?? '{}'), { password: '[redacted]', name: 'x' })
  t.equal(post?.request.headers.authorization, '[redacted]')
  t.equal(post?.baseline.headers['set-cookie'], '[redacted]')
})

t.test('a client that aborts mid-response leaks no stream or socket', async (t) => {
  const slowBody: BackendHandler = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{"items":[')
    const timer = setInterval(() => response.write('{"id":1},'), 5)
    response.on('close', () => clearInterval(timer))
    setTimeout(() => { clearInterval(timer); response.end('{}]}') }, 300)
  }
  const urls = await backends(t, slowBody, slowBody)
  const socketsBefore = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap').length
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url })
  const port = Number(new URL(gateway.gatewayUrl).port)
  const { Socket } = await import('node:net')

  for (let index = 0; index < 30; index++) {
    await new Promise<void>((resolve) => {
      const socket = new Socket()
      socket.connect(port, '127.0.0.1', () => socket.write(`GET /products/${index} HTTP/1.1\r\nHost: x\r\n\r\n`))
      socket.once('data', () => { socket.destroy(); resolve() })
    })
  }
  await new Promise((resolve) => setTimeout(resolve, 800))

  const liveConnections = await new Promise<number>((resolve) => { gateway.gatewayServer.getConnections((_e, count) => resolve(count)) })
  t.equal(liveConnections, 0, 'no client connection left open')
  const baselineOpen = await new Promise<number>((resolve) => { urls.baseline.server.getConnections((_e, count) => resolve(count)) })
  t.ok(baselineOpen < 5, `${baselineOpen} connections left at the baseline, not one per cut-off answer`)
  const dropped = await metricValue(gateway.adminUrl, /reason="live-incomplete"\} (\d+)/)
  t.equal(dropped, 30, 'each cut-off live answer is counted, not queued')
  const aborts = await metricValue(gateway.adminUrl, /^shadowramp_client_aborts_total (\d+)/m)
  t.equal(aborts, 30, 'and counted as a client that went away')
  t.equal((await readQueuedPairs(redisUrl, namespace)).length, 0)

  // Keep-alive connections stay open in the pools until the gateway
  // closes; once it has, nothing it opened may be left behind.
  await gateway.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const handlesAfter = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap').length
  t.ok(handlesAfter <= socketsBefore, `sockets and servers: ${socketsBefore} before the gateway, ${handlesAfter} after it closed`)
})

t.test('while the gateway\'s event loop is saturated, mirroring stands aside and says so', async (t) => {
  const urls = await backends(t, answerAs('baseline'), answerAs('candidate'))
  const { gateway, namespace, redisUrl } = await mirroredGateway(t, { baseline: urls.baseline.url, candidate: urls.candidate.url }, {}, undefined, { shadow: { maxLoopBusy: 0.5 } })
  // Past the busy first moments of a gateway that just started.
  await new Promise((resolve) => setTimeout(resolve, 1_100))
  await send(gateway.gatewayUrl, '/products/0')
  await waitForPairs(redisUrl, namespace, 1)
  const candidateBefore = urls.candidate.requests.length

  // The gateway runs in this process: keeping this thread busy is what a
  // saturated gateway looks like to itself. The window judged after the
  // spin may start up to half a second before it, so the limit here is
  // half busy rather than the default 90%.
  const until = performance.now() + 700
  while (performance.now() < until) { /* busy on purpose */ }
  await new Promise((resolve) => setTimeout(resolve, 20))
  for (let index = 1; index <= 3; index++) t.equal((await send(gateway.gatewayUrl, `/products/${index}`)).status, 200, 'the live request is served')

  t.equal(urls.candidate.requests.length, candidateBefore, 'and not mirrored')
  t.equal(await metricValue(gateway.adminUrl, /shadowramp_shadow_skipped_total\{route="products",reason="gateway-busy"\} (\d+)/), 3, 'each skip is counted')

  await new Promise((resolve) => setTimeout(resolve, 1_100))
  await send(gateway.gatewayUrl, '/products/4')
  t.ok(await waitFor(async () => urls.candidate.requests.length > candidateBefore, 2_000) < 2_000, 'once the loop has room again, mirroring resumes')
})
