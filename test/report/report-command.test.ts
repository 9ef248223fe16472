import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { stringify } from 'yaml'
import { recordPairs, type PairRecord } from '../../src/store/diff-aggregates.js'
import { decideIgnoreRule } from '../../src/store/ignore-rules.js'
import { createKeys } from '../../src/store/keys.js'
import { writeShadowGuard } from '../../src/store/shadow-guard.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'
import { tempDir } from '../helpers/temp-dir.js'

function record (verdict: PairRecord['verdict'], extra: Partial<PairRecord> = {}): PairRecord {
  return { capturedAt: Date.now(), verdict, differences: [], ignored: [], noise: [], baselineLatencyMs: 4, candidateLatencyMs: 40, ...extra }
}

t.test('shadowramp report prints each route for people, and as JSON for scripts', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('report')
  const keys = createKeys(namespace)
  const redis = new Redis(redisUrl)
  t.teardown(async () => { redis.disconnect(); await dropNamespace(redisUrl, namespace) })

  const records = [
    ...Array.from({ length: 90 }, () => record('identical')),
    ...Array.from({ length: 6 }, () => record('diverging', { differences: [{ path: 'items[*].price', kind: 'changed' }] })),
    record('status-mismatch', { statuses: { baseline: 200, candidate: 404 } }),
    record('noise-only', { noise: ['generatedAt'], noiseSample: [{ path: 'generatedAt', noiseClass: 'value' }] }),
    record('noise-only', { noise: ['generatedAt'], noiseSample: [{ path: 'generatedAt', noiseClass: 'value' }] }),
    record('noise-only', { noise: ['generatedAt'], noiseSample: [{ path: 'generatedAt', noiseClass: 'value' }] }),
    record('not-comparable', { notComparable: 'candidate body is not JSON' })
  ]
  await recordPairs(redis, keys, 'feed', 'b1', records)
  await writeShadowGuard(redis, keys, 'feed', { factor: 0.25, reason: '9 failed and 0 slow of 10 shadow requests in the last 1.0 s', since: Date.now(), gateway: 'host:1' })
  await decideIgnoreRule(redis, keys, 'feed', { rule: 'ignorePaths', pattern: 'generatedAt', decision: 'rejected', at: Date.now(), actor: 'test' })

  const dir = tempDir(t, 'sr-report-')
  const file = join(dir, 'config.yaml')
  writeFileSync(file, stringify({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }]
  }))
  const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'report', ...args, '--config', file], { encoding: 'utf8', timeout: 20_000 })

  const text = run('feed', '--since', '5m')
  t.equal(text.status, 0, text.stderr)
  t.match(text.stdout, /^feed — last 5m/)
  t.match(text.stdout, /divergence {3}7\.00% \(7 of 100 compared\)/)
  t.match(text.stdout, /pairs {8}101: identical 90 · diverging 6 · status mismatch 1 · noise only 3 · not comparable 1/)
  t.match(text.stdout, /diverging fields\n\s+6 {2}changed\s+items\[\*\]\.price/)
  t.match(text.stdout, /200 → 404/)
  t.match(text.stdout, /candidate body is not JSON/)
  t.match(text.stdout, /ignorePaths: generatedAt {2}\(rejected\)/)
  t.match(text.stdout, /shadow backed off\n\s+host:1: 25\.00% of the sample rate since .*: 9 failed and 0 slow/)

  const json = run('--json')
  t.equal(json.status, 0, json.stderr)
  const [feed] = JSON.parse(json.stdout) as Array<Record<string, unknown>>
  t.match(feed, { route: 'feed', pairs: 101, compared: 100, diverging: 6, statusMismatch: 1, noiseOnly: 3, notComparable: 1 })

  const emptyFile = join(dir, 'empty.yaml')
  writeFileSync(emptyFile, stringify({
    redis: { url: redisUrl, namespace: `${namespace}-empty` },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }]
  }))
  const elsewhere = spawnSync(process.execPath, ['dist/cli/main.js', 'report', '--config', emptyFile], { encoding: 'utf8', timeout: 20_000 })
  t.equal(elsewhere.status, 0, elsewhere.stderr)
  t.match(elsewhere.stdout, new RegExp(`no pairs at all in namespace ${namespace}-empty at redis://`), 'a namespace with nothing in it is named')
  t.notMatch(text.stdout, /no pairs/, 'and only then')

  // One empty route beside a route with pairs: the namespace is not called empty.
  const twoRoutes = join(dir, 'two-routes.yaml')
  writeFileSync(twoRoutes, stringify({
    redis: { url: redisUrl, namespace },
    routes: [
      { name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } },
      { name: 'carts', paths: ['/carts'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } },
      { name: 'videos', paths: ['/videos'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror: {} }
    ]
  }))
  const reportOf = (route: string) => spawnSync(process.execPath, ['dist/cli/main.js', 'report', route, '--config', twoRoutes], { encoding: 'utf8', timeout: 20_000 })
  const carts = reportOf('carts')
  t.equal(carts.status, 0, carts.stderr)
  t.match(carts.stdout, /no pairs for carts: it has no mirror in this configuration/, 'an unmirrored route is said to be one')
  t.match(carts.stdout, /^ {2}divergence {3}no pairs compared in this window$/m, 'an empty window says so, without promising pairs "yet"')
  t.notMatch(carts.stdout, /no pairs at all/)
  t.match(reportOf('videos').stdout, new RegExp(`no pairs for videos, while other routes in namespace ${namespace} at redis://\\S+ have some: check that requests reach videos`),
    'a mirrored route without pairs beside routes with some: the namespace is right')
  const alone = join(dir, 'alone.yaml')
  writeFileSync(alone, stringify({
    redis: { url: redisUrl, namespace: `${namespace}-empty` },
    routes: [{ name: 'videos', paths: ['/videos'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror: {} }]
  }))
  const nothing = spawnSync(process.execPath, ['dist/cli/main.js', 'report', 'videos', '--config', alone], { encoding: 'utf8', timeout: 20_000 })
  t.match(nothing.stdout, /no pairs for videos in namespace \S+-empty at redis:\/\/\S+, nor for any other route: if a gateway mirrors it, check that this configuration names its redis\.url/)

  const unknown = run('nonsense')
  t.equal(unknown.status, 1)
  t.match(unknown.stderr, /shadowramp: unknown route nonsense/)
  for (const since of ['yesterday', '0s', '2d', '999d', '', '-5m']) {
    const badSince = run('--since', since)
    t.equal(badSince.status, 2, `--since ${since} is refused`)
    t.match(badSince.stderr, `--since wants a duration above 0 and at most 1d (pairs are counted for a day), such as 30s, 10m or 1h, got "${since}"`)
  }
})

t.test('shadowramp report of an unknown route names the configuration file it read and the routes that file has', async (t) => {
  const dir = tempDir(t, 'sr-report-')
  const routes = ['products', 'orders'].map((name) => ({ name, paths: [`/${name}`], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }))
  mkdirSync(join(dir, 'config'))
  const given = join(dir, 'given.yaml')
  writeFileSync(given, stringify({ routes }))
  writeFileSync(join(dir, 'config', 'shadowramp.yaml'), stringify({ routes: routes.slice(0, 1) }))
  const main = resolve('dist/cli/main.js')
  const env = { ...process.env }
  delete env.SHADOWRAMP_CONFIG
  // The route is checked before Redis is reached: these runs connect to nothing.
  const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [main, 'report', ...args], { cwd: dir, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 20_000 })

  const withConfig = run(['nosuch', '--config', given])
  t.equal(withConfig.status, 1)
  t.equal(withConfig.stderr, `shadowramp: unknown route nosuch: ${given} has routes products, orders\n`)

  const byDefault = run(['orders'])
  t.equal(byDefault.status, 1)
  t.equal(byDefault.stderr, 'shadowramp: unknown route orders: config/shadowramp.yaml (the default; --config names another) has one route, products\n',
    'a route of another file is unknown because the default file was read, and the message says so')

  const fromEnv = run(['orders'], { SHADOWRAMP_CONFIG: 'config/shadowramp.yaml' })
  t.equal(fromEnv.stderr, 'shadowramp: unknown route orders: config/shadowramp.yaml (from SHADOWRAMP_CONFIG) has one route, products\n')
})

t.test('shadowramp report over a quiet window says when the latest pairs were captured, not to check the configuration', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('report')
  const redis = new Redis(redisUrl)
  t.teardown(async () => { redis.disconnect(); await dropNamespace(redisUrl, namespace) })
  const threeMinutesAgo = Date.now() - 3 * 60_000
  const earlier = [record('identical', { capturedAt: threeMinutesAgo }), record('identical', { capturedAt: threeMinutesAgo })]
  await recordPairs(redis, createKeys(namespace), 'feed', 'b1', earlier)

  const file = join(tempDir(t, 'sr-report-'), 'config.yaml')
  writeFileSync(file, stringify({
    redis: { url: redisUrl, namespace },
    routes: [
      { name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror: {} },
      { name: 'videos', paths: ['/videos'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror: {} }
    ]
  }))
  const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'report', ...args, '--config', file], { encoding: 'utf8', timeout: 20_000 })

  const all = run('--since', '10s')
  t.equal(all.status, 0, all.stderr)
  t.match(all.stdout, /no pairs in the last 10s; the latest, for feed, were captured 3m ago: widen the window, e\.g\. --since 5m/)
  t.notMatch(all.stdout, /no pairs at all|check that this configuration/, 'the configuration is not blamed')

  const feed = run('feed', '--since', '10s')
  t.match(feed.stdout, /no pairs for feed in the last 10s; the latest were captured 3m ago: widen the window, e\.g\. --since 5m/)
  t.notMatch(feed.stdout, /nor for any other route|check that this configuration/)
  const widened = run('feed', '--since', '5m')
  t.match(widened.stdout, /pairs {8}2: identical 2/, 'the suggested window shows the pairs')
  t.notMatch(widened.stdout, /no pairs/)

  const videos = run('videos', '--since', '10s')
  t.match(videos.stdout, new RegExp(`no pairs for videos, while other routes in namespace ${namespace} at redis://\\S+ had some until 3m ago: check that requests reach videos`),
    'a route that never had pairs, beside one that had: its sampling is the question, not the namespace')

  const json = run('--json', '--since', '10s')
  t.match(JSON.parse(json.stdout), [{ route: 'feed', pairs: 0 }, { route: 'videos', pairs: 0 }], 'the JSON carries no hint')
})

t.test('shadowramp report with no pairs kept before a quiet window still points at the configuration', async (t) => {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('report')
  const redis = new Redis(redisUrl)
  t.teardown(async () => { redis.disconnect(); await dropNamespace(redisUrl, namespace) })
  // A bucket counted late, after a backlog, is kept 24 h from then; the look-back still stops 24 h back.
  const dayAndHourAgo = Date.now() - 25 * 60 * 60_000
  await recordPairs(redis, createKeys(namespace), 'feed', 'b1', [record('identical', { capturedAt: dayAndHourAgo })])

  const file = join(tempDir(t, 'sr-report-'), 'config.yaml')
  writeFileSync(file, stringify({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror: {} }]
  }))
  const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'report', ...args, '--config', file], { encoding: 'utf8', timeout: 20_000 })

  const all = run('--since', '10s')
  t.equal(all.status, 0, all.stderr)
  t.match(all.stdout, new RegExp(`no pairs at all in namespace ${namespace} at redis://\\S+: if the gateway mirrors, check that this configuration names its redis\\.url`))
  t.notMatch(all.stdout, /widen the window/)
  const feed = run('feed', '--since', '10s')
  t.match(feed.stdout, new RegExp(`no pairs for feed in namespace ${namespace} at redis://\\S+, nor for any other route: if a gateway mirrors it, check that this configuration`))
  t.notMatch(feed.stdout, /widen the window/)
})

t.test('shadowramp report with Redis unreachable says so in one line, without the client retries', async (t) => {
  const dir = tempDir(t, 'sr-report-')
  const file = join(dir, 'config.yaml')
  // Port 1 on loopback: nothing listens there, so every connection is refused.
  writeFileSync(file, stringify({
    redis: { url: 'redis://127.0.0.1:1', namespace: uniqueNamespace('report') },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' } }]
  }))

  const run = spawnSync(process.execPath, ['dist/cli/main.js', 'report', '--config', file], { encoding: 'utf8', timeout: 20_000 })

  t.equal(run.status, 1)
  t.equal(run.stdout, '')
  t.match(run.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/)
  t.notMatch(run.stderr, /Unhandled error event|ECONNREFUSED/, 'no stack traces from the Redis client')
  t.equal(run.stderr.trim().split('\n').length, 1, 'one line')
})
