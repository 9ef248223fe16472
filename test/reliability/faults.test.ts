import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { readDivergence } from '../../src/store/diff-aggregates.js'
import { createKeys } from '../../src/store/keys.js'
import { startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { startTestShadowramp } from '../helpers/gateway.js'
import { json, startBackend, type BackendHandler } from '../helpers/http.js'
import { tempDir } from '../helpers/temp-dir.js'

/*
 * Faults under a steady load from a real client (autocannon). Each case
 * reports failed live requests, and where pairs are involved, pairs lost
 * or counted twice once the fault healed.
 */

type CandidateMode = 'healthy' | 'status-500' | 'timeout' | 'reset' | 'cut-mid-body' | 'ten-seconds-late' | 'slow-20x' | 'down'

interface Rig {
  gatewayUrl: string
  adminUrl: string
  redisUrl: string
  namespace: string
  redisServer: Awaited<ReturnType<typeof startPrivateRedis>>
  setCandidate: (mode: CandidateMode) => void
  setBaselineDown: (down: boolean) => void
}

const feed = JSON.stringify({ items: Array.from({ length: 40 }, (_value, id) => ({ id, title: `item ${id}`, price: id * 1.5 })) })

function candidateHandler (mode: () => CandidateMode): BackendHandler {
  return (_request, response) => {
    switch (mode()) {
      case 'status-500': return json(response, 500, { error: 'boom' })
      case 'timeout': setTimeout(() => json(response, 200, JSON.parse(feed)), 1_500); return
      case 'ten-seconds-late': setTimeout(() => { if (!response.destroyed) json(response, 200, JSON.parse(feed)) }, 10_000); return
      case 'reset': response.socket?.destroy(); return
      case 'cut-mid-body':
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(feed.length) })
        response.write(feed.slice(0, 100))
        setTimeout(() => response.socket?.destroy(), 5)
        return
      case 'slow-20x': setTimeout(() => json(response, 200, JSON.parse(feed)), 200); return
      default: json(response, 200, JSON.parse(feed))
    }
  }
}

async function rig (t: Test, extraRoute: Record<string, unknown> = {}): Promise<Rig> {
  const redisServer = await startPrivateRedis()
  const redisUrl = `redis://127.0.0.1:${redisServer.port}`
  let mode: CandidateMode = 'healthy'
  let baselineDown = false
  const baseline = await startBackend((request, response) => {
    if (baselineDown) { response.socket?.destroy(); return }
    if (request.url.includes('slow-baseline')) { setTimeout(() => json(response, 200, JSON.parse(feed)), 2); return }
    json(response, 200, JSON.parse(feed))
  })
  const candidate = await startBackend(candidateHandler(() => mode))
  const fallbackFile = join(tempDir(t, 'sr-fallback-'), 'fallback.json')
  writeFileSync(fallbackFile, feed)
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl },
    worker: { inProcess: true, lockMs: 1_000 },
    controller: { enabled: false },
    routes: [{
      name: 'feed',
      paths: ['/feed', '/feed/*'],
      baseline: { url: baseline.url, timeoutMs: 1_000 },
      candidate: { url: candidate.url, timeoutMs: 300 },
      percentage: 50,
      mirror: { noiseSampleRate: 0, timeoutMs: 2_000, maxPerSecond: 10_000, maxInFlight: 256 },
      fallback: { static: { file: fallbackFile } },
      ...extraRoute
    }]
  }, { redisUrl })
  t.teardown(async () => {
    await gateway.close()
    await baseline.close()
    await candidate.close()
    redisServer.server.kill('SIGCONT')
    redisServer.server.kill('SIGKILL')
  })

  return {
    gatewayUrl: gateway.gatewayUrl,
    adminUrl: gateway.adminUrl,
    redisUrl,
    namespace: gateway.config.redis.namespace,
    redisServer,
    setCandidate: (next) => { mode = next },
    setBaselineDown: (down) => { baselineDown = down }
  }
}

interface Load {
  requests: number
  failed: number
  p99Ms: number
}

async function load (url: string, seconds: number, connections = 8, during?: () => Promise<void>): Promise<Load> {
  const run = autocannon({ url: `${url}/feed`, connections, duration: seconds, timeout: 15 })
  const [result] = await Promise.all([run, during?.()])

  return { requests: result.requests.total, failed: result.errors + result.timeouts + result.non2xx, p99Ms: result.latency.p99 }
}

async function metricSum (adminUrl: string, name: string, filter = ''): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text()
  return text.split('\n')
    .filter((line) => line.startsWith(name) && line.includes(filter))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

async function countedPairs (redisUrl: string, namespace: string): Promise<number> {
  const redis = new Redis(redisUrl)
  try {
    return (await readDivergence(redis, createKeys(namespace), 'feed', Date.now() - 3_600_000, Date.now() + 60_000)).pairs
  } finally {
    redis.disconnect()
  }
}

/** Waits for the gateway's buffer and the worker to finish, then reads the pair figures. */
async function settle (rigged: Rig): Promise<{ captured: number, enqueued: number, droppedAfterCapture: number, skippedForQueue: number, counted: number }> {
  let counted = -1
  let unchanged = 0
  for (let attempt = 0; attempt < 100 && unchanged < 10; attempt++) {
    const pending = await metricSum(rigged.adminUrl, 'shadowramp_shadow_pending_bytes')
    const enqueued = await metricSum(rigged.adminUrl, 'shadowramp_pairs_enqueued_total')
    const now = await countedPairs(rigged.redisUrl, rigged.namespace)
    if (pending === 0 && now >= enqueued) { counted = now; break }
    unchanged = now === counted && pending === 0 ? unchanged + 1 : 0
    counted = now
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // Pairs are dropped before capture too (a live answer cut off); these
  // reasons are the ones a captured pair can meet on its way to Redis.
  const afterCapture = ['redis-unreachable', 'redis-slow', 'queue-full']
  let droppedAfterCapture = 0
  let skippedForQueue = 0
  for (const reason of afterCapture) {
    droppedAfterCapture += await metricSum(rigged.adminUrl, 'shadowramp_pairs_dropped_total', `reason="${reason}"`)
    // The same reasons, met before a pair was begun: it was not mirrored at all.
    skippedForQueue += await metricSum(rigged.adminUrl, 'shadowramp_shadow_skipped_total', `reason="${reason}"`)
  }

  return {
    captured: await metricSum(rigged.adminUrl, 'shadowramp_pairs_captured_total'),
    enqueued: await metricSum(rigged.adminUrl, 'shadowramp_pairs_enqueued_total'),
    droppedAfterCapture,
    skippedForQueue,
    counted
  }
}

for (const mode of ['status-500', 'timeout', 'reset', 'cut-mid-body', 'ten-seconds-late'] as const) {
  t.test(`candidate failing (${mode}): every live request is answered by the fallback chain`, async (t) => {
    const rigged = await rig(t)
    rigged.setCandidate(mode)
    const result = await load(rigged.gatewayUrl, 3)

    t.ok(result.requests > 20, `${result.requests} requests`)
    t.equal(result.failed, 0, 'no failed live request')
    const fellBack = await metricSum(rigged.adminUrl, 'shadowramp_fallbacks_total', 'from="candidate"')
    t.ok(fellBack > 0, `${fellBack} requests moved from the candidate to the baseline`)
  })
}

t.test('baseline down as well: the fallback content answers', async (t) => {
  const rigged = await rig(t)
  rigged.setCandidate('down')
  rigged.setBaselineDown(true)
  rigged.setCandidate('reset')
  const result = await load(rigged.gatewayUrl, 2)

  t.equal(result.failed, 0, 'no failed live request')
  const fromFallback = await metricSum(rigged.adminUrl, 'shadowramp_requests_total', 'served_by="fallback",status_class="2xx"')
  const fromBackends = await metricSum(rigged.adminUrl, 'shadowramp_requests_total', 'served_by="b') + await metricSum(rigged.adminUrl, 'shadowramp_requests_total', 'served_by="c')
  t.ok(fromFallback >= result.requests, `${fromFallback} answers from the fallback content`)
  t.equal(fromBackends, 0, 'none from a backend')
})

t.test('Redis killed and restarted mid-load: no live failure, and every pair is either counted once or counted as dropped', async (t) => {
  const rigged = await rig(t)
  const result = await load(rigged.gatewayUrl, 6, 8, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    rigged.redisServer.server.kill('SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const restarted = await startPrivateRedis(rigged.redisServer.port)
    rigged.redisServer.server = restarted.server
  })

  t.equal(result.failed, 0, `no failed live request out of ${result.requests}`)
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const pairs = await settle(rigged)
  t.ok(pairs.skippedForQueue > 0, `${pairs.skippedForQueue} requests not mirrored while Redis was down ` +
    `(and ${pairs.droppedAfterCapture} pairs under way dropped), each counted`)
  t.equal(pairs.captured, pairs.enqueued + pairs.droppedAfterCapture, 'every captured pair was queued or counted as dropped')
  // Pairs queued before the kill died with that Redis (it keeps nothing on
  // disk); those queued after the restart are each counted exactly once.
  t.ok(pairs.counted > 0 && pairs.counted <= pairs.enqueued, `${pairs.counted} pairs counted after the restart, none twice (${pairs.enqueued} queued in all)`)
})

t.test('Redis paused for 2 s mid-load: no live failure, and every queued pair counted exactly once', async (t) => {
  const rigged = await rig(t)
  const result = await load(rigged.gatewayUrl, 5, 8, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    rigged.redisServer.server.kill('SIGSTOP')
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    rigged.redisServer.server.kill('SIGCONT')
  })

  t.equal(result.failed, 0, `no failed live request out of ${result.requests}`)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const pairs = await settle(rigged)
  t.equal(pairs.captured, pairs.enqueued + pairs.droppedAfterCapture, 'every captured pair was queued or counted as dropped')
  t.equal(pairs.counted, pairs.enqueued, `every queued pair (${pairs.enqueued}) counted exactly once`)
})

t.test('a shadow backend 20× slower than the live one changes nothing for the client', async (t) => {
  const rigged = await rig(t, { percentage: 0 })
  const healthy = await load(rigged.gatewayUrl, 3)
  rigged.setCandidate('slow-20x')
  const slowShadow = await load(rigged.gatewayUrl, 3)

  t.equal(healthy.failed + slowShadow.failed, 0, 'no failed live request')
  // Throughput and latency are compared as figures in bench/shadow-cost.ts;
  // here the shadow's slowness must not show up as the live tail.
  t.ok(slowShadow.p99Ms < 150, `live p99 ${slowShadow.p99Ms} ms (${healthy.p99Ms} ms with a healthy shadow) while each shadow answer takes 200 ms, at least 20 times the live one`)
})
