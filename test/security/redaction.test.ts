import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { stringify } from 'yaml'
import { createKeys } from '../../src/store/keys.js'
import { memoryLogger, startTestShadowramp } from '../helpers/gateway.js'
import { startBackend, type BackendHandler } from '../helpers/http.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'
import { readSecret, testTokens } from '../helpers/admin-api.js'
import { tempDir } from '../helpers/temp-dir.js'

const secret = 'PLANTED-SECRET-d41d8cd9'

/** Every value held under a namespace, whatever the key's type, as text. */
async function dumpNamespace (redis: Redis, namespace: string): Promise<Map<string, string>> {
  const dump = new Map<string, string>()
  for (const key of await redis.keys(`{${namespace}*`)) {
    const type = await redis.type(key)
    const value =
      type === 'string'
        ? (await redis.getBuffer(key))?.toString('latin1')
        : type === 'hash'
          ? JSON.stringify(await redis.hgetall(key))
          : type === 'list'
            ? JSON.stringify(await redis.lrange(key, 0, -1))
            : type === 'zset'
              ? JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'))
              : type === 'stream'
                ? JSON.stringify(await redis.xrange(key, '-', '+'))
                : JSON.stringify(await redis.smembers(key))
    dump.set(key, value ?? '')
  }
  return dump
}

t.test('a planted secret is found in no log, no stored pair, no report, no API answer', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('secret')
  const { logger, lines } = memoryLogger('debug')
  // Each backend answers differently, so pairs diverge and examples are kept.
  const answer = (side: string): BackendHandler => (request, response) => {
    // The path only: a body that repeats a query's secret is the backend's to redact.
    const body = JSON.stringify({ side, account: { password: secret, owner: 'ann' }, echo: request.url?.split('?')[0] })
    response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `session=${secret}; HttpOnly`, 'x-api-key': secret })
    response.end(body)
  }
  const baseline = await startBackend(answer('baseline'))
  const candidate = await startBackend(answer('candidate'))
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    admin: { listen: { host: '127.0.0.1', port: 0 }, tokens: testTokens },
    worker: { inProcess: true },
    controller: { enabled: false },
    log: { level: 'debug', requests: true },
    routes: [{
      name: 'accounts',
      paths: ['/accounts', '/accounts/*'],
      baseline: { url: baseline.url },
      candidate: { url: candidate.url },
      percentage: 50,
      mirror: { methods: ['GET', 'POST'], redactFields: ['password', 'token'], redactHeaders: ['x-api-key'], captureHeaders: ['x-api-key'], noiseSampleRate: 50 }
    }]
  }, { redisUrl, logger })
  t.teardown(async () => { await gateway.close(); await baseline.close(); await candidate.close(); await dropNamespace(redisUrl, namespace) })

  const headers = { authorization: `Bearer ${secret}`, cookie: `session=${secret}`, 'x-api-key': secret, 'proxy-authorization': `Basic ${secret}`, 'content-type': 'application/json' }
  for (let index = 0; index < 10; index++) {
    // In the query too: a well-known credential name, and a configured field.
    await (await request(`${gateway.gatewayUrl}/accounts/${index}?access_token=${secret}&page=2&password=${secret}`, { headers })).body.dump()
    await (await request(`${gateway.gatewayUrl}/accounts`, { method: 'POST', headers, body: JSON.stringify({ password: secret, token: secret, name: 'x' }) })).body.dump()
  }
  const admin = async (path: string): Promise<string> => await (await request(`${gateway.adminUrl}${path}`, { headers: { authorization: `Bearer ${readSecret}` } })).body.text()
  let report = ''
  for (let attempt = 0; attempt < 100; attempt++) {
    report = await admin('/api/routes/accounts/report?since=1h')
    if ((JSON.parse(report) as { pairs: number }).pairs >= 20) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok((JSON.parse(report) as { pairs: number }).pairs >= 20, 'the pairs were judged and counted')

  // Redis: every key of the namespace, queue and batches included.
  const redis = new Redis(redisUrl)
  t.teardown(() => redis.disconnect())
  const dump = await dumpNamespace(redis, namespace)
  t.ok(dump.size > 5)
  for (const [key, value] of dump) t.notMatch(value, secret, `Redis ${key}`)

  // The admin API: report, every example list, history, route views.
  const paths = (JSON.parse(report) as { paths: Array<{ path: string, kind: string }> }).paths
  t.ok(paths.length > 0, 'pairs diverged, so examples were kept')
  const answers = [report, await admin('/api/routes'), await admin('/api/routes/accounts/history')]
  for (const { path, kind } of paths) answers.push(await admin(`/api/routes/accounts/examples?kind=${encodeURIComponent(kind)}&path=${encodeURIComponent(path)}`))
  t.match(answers.at(-1), /\[redacted\]/, 'an example shows where a secret was')
  for (const text of answers) t.notMatch(text, secret, 'admin API answer')

  // Logs, at debug, with every request logged.
  const logged = JSON.stringify(lines())
  t.ok(lines().length > 20)
  t.notMatch(logged, secret, 'log lines')

  // The exported report, as a script would read it.
  const dir = tempDir(t, 'sr-secret-')
  const file = join(dir, 'config.yaml')
  writeFileSync(file, stringify({ redis: { url: redisUrl, namespace }, routes: [{ name: 'accounts', paths: ['/accounts'], baseline: { url: baseline.url }, candidate: { url: candidate.url } }] }))
  const exported = spawnSync(process.execPath, ['dist/cli/main.js', 'report', '--json', '--since', '1h', '--config', file], { encoding: 'utf8', timeout: 20_000 })
  t.equal(exported.status, 0, exported.stderr)
  t.match(exported.stdout, /"route": "accounts"/)
  t.notMatch(exported.stdout, secret, 'shadowramp report --json')

  t.equal(baseline.requests.some((received) => received.headers.authorization === `Bearer ${secret}`), true, 'the backends themselves still got the credentials')
})
