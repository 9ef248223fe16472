import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { parse } from 'yaml'
import { startWorkerProcess } from '../../src/cli/worker.js'
import { createLogger } from '../../src/telemetry/logger.js'
import { startTestShadowramp, testConfig } from '../helpers/gateway.js'
import { json, startBackend, type BackendHandler } from '../helpers/http.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'
import {
  dashboardQueries, findUnexported, keepsRouteLabel, metricNamesOf, parseExposition, readRepoFile, readYaml,
  repoRoot, ruleQueries, selectorsOf, type Exposition, type QueryUse
} from '../helpers/promql.js'

const dashboardFile = 'dashboards/grafana/shadowramp.json'
const rulesFile = 'dashboards/prometheus/alert-rules.yml'
const prometheusFile = 'dashboards/prometheus/prometheus.yml'
const alertmanagerFile = 'dashboards/alertmanager/alertmanager.yml'

const checkOptions = {
  prometheusOwn: new Set(['up', 'ALERTS']),
  targetLabels: new Set(['job', 'instance'])
}

function everyQuery (): QueryUse[] {
  const dashboard = JSON.parse(readRepoFile(dashboardFile))
  return [...dashboardQueries(dashboard), ...ruleQueries(readYaml(rulesFile))]
}

/**
 * Backends whose answers give every verdict, every fallback reason the
 * dashboard names, a shadow request without an answer, and 5xx answers
 * served by the baseline. Paths:
 *   /products/same    identical answers
 *   /products/<n>     the candidate turns the numeric id into a string: diverging
 *   /products/noisy   only `updatedAt` differs, which the route ignores: noise-only
 *   /products/broken  the candidate answers 500: status mismatch, or a fallback
 *   /products/reset   the candidate drops the connection: not comparable, or a fallback
 *   /products/gone    both answer 500
 */
function baselineAnswer (): BackendHandler {
  return (incoming, response) => {
    const item = incoming.url.split('/').pop() ?? ''
    if (item === 'gone') { json(response, 500, { error: 'gone' }); return }
    if (item === 'noisy') { json(response, 200, { id: 7, updatedAt: 'baseline' }); return }
    json(response, 200, { id: Number.isNaN(Number(item)) ? item : Number(item), price: 10 })
  }
}

function candidateAnswer (): BackendHandler {
  return (incoming, response) => {
    const item = incoming.url.split('/').pop() ?? ''
    if (item === 'broken' || item === 'gone') { json(response, 500, { error: item }); return }
    if (item === 'reset') { response.socket?.destroy(); return }
    if (item === 'noisy') { json(response, 200, { id: 7, updatedAt: 'candidate' }); return }
    json(response, 200, { id: item, price: 10 })
  }
}

async function startStack (t: Test): Promise<{ gatewayUrl: string, scrapeUrls: string[] }> {
  const baseline = await startBackend(baselineAnswer())
  const candidate = await startBackend(candidateAnswer())
  t.teardown(async () => { await baseline.close(); await candidate.close() })
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('dash')
  const routes = [
    {
      name: 'products',
      paths: ['/products/:id'],
      baseline: { url: baseline.url },
      candidate: { url: candidate.url, timeoutMs: 1_000 },
      percentage: 50,
      mirror: { noiseSampleRate: 0 },
      compare: { ignorePaths: ['updatedAt'] }
    },
    // One shadow request a second at most, so that quick requests are skipped.
    {
      name: 'reviews',
      paths: ['/reviews/:id'],
      baseline: { url: baseline.url },
      candidate: { url: candidate.url },
      mirror: { maxPerSecond: 1, noiseSampleRate: 0 }
    }
  ]
  const input = {
    redis: { url: redisUrl, namespace },
    controller: { enabled: false },
    forceHeader: { enabled: true },
    worker: { inProcess: false, listen: { host: '127.0.0.1', port: 0 } },
    routes
  }
  const gateway = await startTestShadowramp(input, { redisUrl })
  const quiet = createLogger({ level: 'warn', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) })
  // The worker as `shadowramp worker` runs it: its own registry and listener.
  const worker = await startWorkerProcess(testConfig(input, namespace), redisUrl, quiet)
  t.teardown(async () => {
    await gateway.close()
    await worker.close()
    await dropNamespace(redisUrl, namespace)
  })

  return { gatewayUrl: gateway.gatewayUrl, scrapeUrls: [`${gateway.adminUrl}/metrics`, `${worker.metricsUrl}/metrics`] }
}

async function sendTraffic (gatewayUrl: string): Promise<void> {
  const paths = ['/products/same', '/products/noisy', '/products/broken', '/products/reset', '/products/gone']
  for (let index = 0; index < 10; index++) paths.push(`/products/${index}`)

  for (const backend of ['baseline', 'candidate']) {
    for (const path of paths) await get(gatewayUrl, path, backend)
  }
  const reviews = Array.from({ length: 6 }, (_value, index) => `/reviews/${index}`)
  await Promise.all(reviews.map(async (path) => await get(gatewayUrl, path, 'baseline')))
}

async function get (gatewayUrl: string, path: string, backend: string): Promise<void> {
  const response = await request(`${gatewayUrl}${path}`, { headers: { 'x-shadowramp-backend': backend } })
  await response.body.dump()
}

async function scrape (urls: readonly string[]): Promise<Exposition> {
  const exported: Exposition = new Map()
  for (const url of urls) {
    const response = await request(url)
    parseExposition(await response.body.text(), exported)
  }

  return exported
}

/** Scrapes until nothing is missing (the workers judge pairs a moment after the traffic), or the deadline. */
async function scrapeUntilComplete (
  urls: readonly string[], uses: readonly QueryUse[], timeoutMs = 20_000
): Promise<{ exported: Exposition, problems: string[] }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const exported = await scrape(urls)
    const problems = findUnexported(uses, exported, checkOptions)
    if (problems.length === 0 || Date.now() > deadline) return { exported, problems }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

t.test('every metric, label and label value the dashboard and the alert rules use is exported', async (t) => {
  const uses = everyQuery()
  const { gatewayUrl, scrapeUrls } = await startStack(t)
  await sendTraffic(gatewayUrl)

  const { exported, problems } = await scrapeUntilComplete(scrapeUrls, uses)
  t.same(problems, [], 'nothing the dashboard or the rules read is missing from /metrics')

  const referenced = new Set(uses.flatMap((use) => metricNamesOf(use.expr)))
  t.ok(referenced.size >= 20, `${referenced.size} metrics referenced`)
  const central = ['rollout_percentage', 'worker_pairs_total', 'requests_total', 'fallbacks_total']
  for (const name of central) t.ok(referenced.has(`shadowramp_${name}`), `shadowramp_${name} is used`)

  // The check can fail: what no process exports is reported.
  const verdicts = [...exported.get('shadowramp_worker_pairs_total')?.get('verdict') ?? []].sort()
  const wrong = findUnexported([
    { where: 'probe', expr: 'sum(rate(shadowramp_no_such_thing_total[5m]))' },
    { where: 'probe', expr: 'shadowramp_requests_total{servedby="candidate"}' },
    { where: 'probe', expr: 'shadowramp_worker_pairs_total{verdict=~"diverging|status_mismatch"}' },
    { where: 'probe', expr: 'histogram_quantile(0.99, rate(shadowramp_request_duration_seconds[5m]))' }
  ], exported, checkOptions)
  t.same(wrong, [
    'probe: shadowramp_no_such_thing_total is exported by no process',
    'probe: shadowramp_requests_total has no label servedby',
    `probe: shadowramp_worker_pairs_total{verdict="status_mismatch"} never seen (seen: ${verdicts.join(', ')})`,
    'probe: shadowramp_request_duration_seconds is exported by no process'
  ])
})

t.test('the PromQL reader finds metrics, matchers and groupings', async (t) => {
  const expr = [
    'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route=~"$route", x!="y"}[$__rate_interval])))',
    '/ on (route) group_left (z) max(b) by (route) offset 5m > bool 0.5',
    'and label_values(c{k="v, w"}, route) # d is a comment',
    'or {__name__="e"} unless sum without (route) (f)'
  ].join('\n')
  t.same(metricNamesOf(expr), ['a_bucket', 'b', 'c', 'e', 'f'])
  t.same(selectorsOf(expr)[0]?.matchers, [
    { label: 'route', op: '=~', value: '$route' },
    { label: 'x', op: '!=', value: 'y' }
  ])
  t.same(keepsRouteLabel(expr), { aggregations: 3, dropping: ['sum without (route)'] })
  t.same(metricNamesOf('label_values(route)'), [])
})

t.test('the dashboard is Grafana JSON with titled panels, a route variable and the provisioned data source', async (t) => {
  const dashboard = JSON.parse(readRepoFile(dashboardFile))
  const panels = (dashboard.panels as any[]).filter((panel) => panel.type !== 'row')
  t.equal(dashboard.uid, 'shadowramp')
  t.ok(panels.length >= 20, `${panels.length} panels`)
  const complete = panels.every((panel) => typeof panel.title === 'string' && panel.title !== '' && panel.targets?.length > 0)
  t.ok(complete, 'each panel has a title and a query')
  const ids = new Set((dashboard.panels as any[]).map((panel) => panel.id))
  t.equal(ids.size, dashboard.panels.length, 'panel ids are unique')

  const variables = new Map((dashboard.templating.list as any[]).map((variable) => [variable.name, variable]))
  t.match(variables.get('route'), { type: 'query', multi: true, includeAll: true })
  const provisioned = parse(readRepoFile('dashboards/grafana/provisioning/datasources/prometheus.yml'))
  const startsOn = variables.get('datasource')?.current?.value
  t.equal(startsOn, provisioned.datasources[0].uid, 'the data source variable starts on the provisioned Prometheus')
  const routeScoped = panels.filter((panel) => panel.targets.some((target: any) => target.expr.includes('route=~"$route"')))
  t.ok(routeScoped.length >= 15, `${routeScoped.length} panels follow the route variable`)

  const provider = parse(readRepoFile('dashboards/grafana/provisioning/dashboards/shadowramp.yml'))
  t.equal(provider.providers[0].type, 'file')
})

t.test('the Prometheus configuration and rule files parse and name files that exist', async (t) => {
  const prometheus = readYaml(prometheusFile)
  t.ok(prometheus.rule_files.length > 0)
  for (const file of prometheus.rule_files as string[]) {
    const path = join(repoRoot, dirname(prometheusFile), file)
    t.ok(existsSync(path), `${file} exists beside prometheus.yml`)
    t.ok(readYaml(join(dirname(prometheusFile), file)).groups.length > 0, `${file} has rule groups`)
  }
  const jobs = (prometheus.scrape_configs as any[]).map((job) => job.job_name)
  t.same(jobs, ['shadowramp', 'shadowramp-worker'], 'scrapes the gateways and the workers')
})

t.test('each alert rule carries the route label and reaches the rollback webhook', async (t) => {
  const rules = (readYaml(rulesFile).groups as any[]).flatMap((group) => group.rules as any[])
  const alertmanager = readYaml(alertmanagerFile)
  const rollbackRoute = (alertmanager.route.routes as any[]).find((route) => route.receiver === 'shadowramp-rollback')
  t.ok(rules.length >= 2)

  for (const rule of rules) {
    t.ok(typeof rule.alert === 'string', 'an alerting rule')
    const label = rule.labels?.route as string | undefined
    const fromMetrics = keepsRouteLabel(rule.expr)
    if (label === undefined) {
      t.ok(fromMetrics.aggregations > 0, `${rule.alert}: aggregates`)
      t.same(fromMetrics.dropping, [], `${rule.alert}: every aggregation keeps the route label`)
    } else {
      t.match(label, /\{\{\s*\$labels\.route\s*\}\}/, `${rule.alert}: its route label is the series' route`)
    }
    t.match(rule.for, /^\d+m$/, `${rule.alert}: has a for: duration in minutes`)
    t.ok(rule.annotations?.summary?.includes('$labels.route'), `${rule.alert}: its summary names the route`)
    t.ok(typeof rule.annotations?.description === 'string', `${rule.alert}: has a description`)
    const labels = { ...rule.labels, route: 'orders', alertname: rule.alert }
    const unmet = unmetMatchers(rollbackRoute.matchers, labels)
    t.same(unmet, [], `${rule.alert}: Alertmanager routes it to the rollback webhook`)
  }
})

t.test('the Alertmanager receiver posts to /api/alerts/alertmanager with a bearer token', async (t) => {
  const alertmanager = readYaml(alertmanagerFile)
  const receiver = (alertmanager.receivers as any[]).find((candidate) => candidate.name === 'shadowramp-rollback')
  const webhook = receiver?.webhook_configs?.[0]
  t.equal(new URL(webhook.url).pathname, '/api/alerts/alertmanager')
  t.equal(webhook.send_resolved, false, 'resolved alerts are not sent: they would change nothing')
  t.equal(webhook.http_config.authorization.type, 'Bearer')
  const credentials = webhook.http_config.authorization.credentials_file ?? webhook.http_config.authorization.credentials
  t.ok(typeof credentials === 'string' && credentials.length > 0, 'with the operator token from a file')
  const route = alertmanager.route.routes.find((candidate: any) => candidate.receiver === receiver.name)
  t.match(route, { group_by: ['alertname', 'route'] }, 'one notification per alert and route')
})

/** Matchers of an Alertmanager route (`name="value"`, `name=~"regex"`, ...) that the labels do not meet. */
function unmetMatchers (matchers: string[], labels: Record<string, string>): string[] {
  return matchers.filter((matcher) => {
    const match = /^(\w+)\s*(=~|!~|!=|=)\s*"(.*)"$/.exec(matcher)
    if (match === null) return true
    const [, name, op, value] = match as unknown as [string, string, string, string]
    const actual = labels[name] ?? ''
    const regex = new RegExp(`^(?:${value})$`)
    if (op === '=') return actual !== value
    if (op === '!=') return actual === value

    return op === '=~' ? !regex.test(actual) : regex.test(actual)
  })
}
