import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { operatorSecret, quietRoute, readSecret, testPlan, testTokens, waitFor } from '../helpers/admin-api.js'
import { privateRedis } from '../helpers/redis.js'

/*
 * A stopped Redis (SIGSTOP here; a network that drops packets silently
 * looks the same) keeps every connection open and answers nothing. These
 * tests hold the admin side to answering at once all the same.
 */

/** Longer than any answer these tests expect: a request still waiting then has hung. */
const hangMs = 6_000

interface TimedAnswer {
  status: number
  body: any
  ms: number
}

/** One admin API call that gives up after `hangMs`, answering status 0. */
async function timedCall (adminUrl: string, method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<TimedAnswer> {
  const started = performance.now()
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  try {
    const response = await request(`${adminUrl}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(hangMs)
    })
    const text = await response.body.text()
    const parsed: unknown = text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text
    return { status: response.statusCode, body: parsed, ms: performance.now() - started }
  } catch {
    return { status: 0, body: undefined, ms: performance.now() - started }
  }
}

const firingAlert = {
  version: '4',
  receiver: 'shadowramp',
  groupKey: '{}:{alertname="CandidateErrors"}',
  alerts: [{ status: 'firing', labels: { alertname: 'CandidateErrors', route: 'feed' }, fingerprint: 'f0' }]
}

interface FrozenHarness {
  adminUrl: string
  freeze: () => void
  wake: () => void
  reachable: () => boolean
  logLines: () => Array<Record<string, unknown>>
}

async function startFrozenHarness (t: Test): Promise<FrozenHarness> {
  const { url: redisUrl, server } = await privateRedis(t)
  const { logger, lines } = memoryLogger('info')
  const running = await startTestShadowramp({
    admin: { listen: { host: '127.0.0.1', port: 0 }, tokens: testTokens, operatorActionsPerMinute: 1_000 },
    controller: { enabled: false },
    redis: { url: redisUrl },
    routes: [quietRoute('feed', { plan: testPlan, percentage: 5 })]
  }, { redisUrl, logger })
  t.teardown(async () => { server.kill('SIGCONT'); await running.close() })

  return {
    adminUrl: running.adminUrl,
    freeze: () => server.kill('SIGSTOP'),
    wake: () => server.kill('SIGCONT'),
    reachable: () => running.watcher.health().reachable,
    logLines: lines
  }
}

async function readReady (adminUrl: string): Promise<{ status: string, redis: { reachable: boolean } }> {
  return await (await request(`${adminUrl}/readyz`)).body.json() as { status: string, redis: { reachable: boolean } }
}

async function readRedisUp (adminUrl: string): Promise<string | undefined> {
  const metrics = await (await request(`${adminUrl}/metrics`)).body.text()
  return /^shadowramp_redis_up (\d)$/m.exec(metrics)?.[1]
}

interface CliRun {
  code: number | null
  stderr: string
  ms: number
}

/** `shadowramp status` from the built CLI, killed if it outlives `hangMs`. */
async function runStatus (adminUrl: string): Promise<CliRun> {
  const started = performance.now()
  const env: NodeJS.ProcessEnv = { ...process.env, SHADOWRAMP_ADMIN_URL: adminUrl, SHADOWRAMP_TOKEN: readSecret }

  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', 'status'], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), hangMs + 5_000)
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr, ms: performance.now() - started }) })
  })
}

t.test('a stopped Redis: degraded within seconds, the admin API, the alert receiver and the CLI answer 503 at once; all back once it wakes', async (t) => {
  const { adminUrl, freeze, wake, reachable, logLines } = await startFrozenHarness(t)
  t.equal((await timedCall(adminUrl, 'GET', '/api/routes/feed', readSecret)).status, 200, 'answers while Redis does')
  t.equal((await readReady(adminUrl)).status, 'ready')

  freeze()
  const noticedMs = await waitFor(async () => !reachable(), 4_000)
  t.ok(noticedMs < Infinity, `Redis unreachable ${noticedMs.toFixed(0)} ms after it stopped`)
  t.match(await readReady(adminUrl), { status: 'degraded', redis: { reachable: false } })
  t.equal(await readRedisUp(adminUrl), '0', 'shadowramp_redis_up is 0')

  const read = await timedCall(adminUrl, 'GET', '/api/routes/feed', readSecret)
  const change = await timedCall(adminUrl, 'POST', '/api/routes/feed/set', operatorSecret, { percentage: 50 })
  const alert = await timedCall(adminUrl, 'POST', '/api/alerts/alertmanager', operatorSecret, firingAlert)
  for (const [name, answer] of Object.entries({ read, change, alert })) {
    t.equal(answer.status, 503, `${name}: 503`)
    t.match(answer.body, { code: 'SR_ERR_STATE_UNAVAILABLE', error: /redis is unreachable since .*nothing was read or changed/ }, name)
    t.ok(answer.ms < 3_000, `${name}: answered in ${answer.ms.toFixed(0)} ms`)
  }
  t.equal((await timedCall(adminUrl, 'GET', '/api/token', readSecret)).status, 200, 'what needs no Redis is still served')

  const cli = await runStatus(adminUrl)
  t.equal(cli.code, 1, 'status exits 1')
  t.match(cli.stderr, /^shadowramp: rollout state is unavailable: redis is unreachable since .*\(HTTP 503, SR_ERR_STATE_UNAVAILABLE\); the gateways go on serving/)
  t.notMatch(cli.stderr, /cannot reach the admin API/)
  t.ok(cli.ms < hangMs, `status answered in ${cli.ms.toFixed(0)} ms`)

  wake()
  const wokenMs = await waitFor(async () => reachable(), 4_000)
  t.ok(wokenMs < Infinity, `reachable ${wokenMs.toFixed(0)} ms after Redis woke`)
  t.equal((await readReady(adminUrl)).status, 'ready')
  t.equal(await readRedisUp(adminUrl), '1')
  const outages = logLines().filter((line) => line.msg === 'redis unreachable; serving with the last percentages known')
  t.equal(outages.length, 1, 'the stop is logged once')
  t.match(outages[0], { level: 40, reason: 'no answer to a ping within 2000 ms' }, 'at warn, with why')
  t.equal(logLines().filter((line) => line.msg === 'redis reachable again; following rollout state').length, 1, 'and its end once')
  const after = await timedCall(adminUrl, 'GET', '/api/routes/feed', readSecret)
  t.match(after, { status: 200, body: { percentage: 5, version: 1 } }, 'nothing refused during the stop was applied when Redis woke')
  t.same((await timedCall(adminUrl, 'GET', '/api/routes/feed/history', readSecret)).body, [], 'and nothing was added to the history')
  t.match(await timedCall(adminUrl, 'POST', '/api/routes/feed/set', operatorSecret, { percentage: 50 }), { status: 200, body: { percentage: 50 } })
})

t.test('requests that reach Redis as it stops answer 503 at the command timeout, and a resent alert rolls back once', async (t) => {
  const { adminUrl, freeze, wake, reachable } = await startFrozenHarness(t)
  t.equal((await timedCall(adminUrl, 'GET', '/api/routes/feed', readSecret)).status, 200)

  freeze()
  t.ok(reachable(), 'sent before the heartbeat notices, so commands are written to the stopped Redis')
  const [read, change, alert] = await Promise.all([
    timedCall(adminUrl, 'GET', '/api/routes/feed', readSecret),
    timedCall(adminUrl, 'POST', '/api/routes/feed/set', operatorSecret, { percentage: 50 }),
    timedCall(adminUrl, 'POST', '/api/alerts/alertmanager', operatorSecret, firingAlert)
  ])
  t.match(read, { status: 503, body: { code: 'SR_ERR_STATE_UNAVAILABLE', error: /redis is unreachable \(no answer in time\)$/ } })
  t.match(change, { status: 503, body: { error: /the change may still be applied when Redis answers/ } })
  t.match(alert, { status: 503, body: { error: /the rollback may still be written when Redis answers: send it again/ } })
  for (const [name, answer] of Object.entries({ read, change, alert })) {
    t.ok(answer.ms < 3_500, `${name}: answered in ${answer.ms.toFixed(0)} ms`)
  }

  wake()
  t.ok(await waitFor(async () => reachable(), 4_000) < Infinity, 'reachable again')
  // The alert's first command timed out, so nothing after it was sent:
  // Alertmanager's retry is the only rollback, and a repeat changes nothing.
  const retried = await timedCall(adminUrl, 'POST', '/api/alerts/alertmanager', operatorSecret, firingAlert)
  t.match(retried, { status: 200, body: { rolledBack: [{ route: 'feed', from: 5, to: 0 }], alreadyRolledBack: [] } })
  const repeated = await timedCall(adminUrl, 'POST', '/api/alerts/alertmanager', operatorSecret, firingAlert)
  t.match(repeated, { status: 200, body: { rolledBack: [], alreadyRolledBack: ['feed'] } })
  const history = (await timedCall(adminUrl, 'GET', '/api/routes/feed/history', readSecret)).body as Array<{ action: string }>
  t.same(history.map((entry) => entry.action), ['alert'], 'one rollback in the history')
})
