import Fastify from 'fastify'
import t from 'tap'
import { request } from 'undici'
import { loadUiAssets, uiFolder, uiRoutes } from '../../src/admin/ui-assets.js'
import { operatorSecret, quietRoute, readSecret, startAdminHarness } from '../helpers/admin-api.js'
import { tempDir } from '../helpers/temp-dir.js'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, text: string }> {
  const answer = await request(url, { headers })
  return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() }
}

t.test('the admin listener serves the web UI at /ui without a token', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  const bare = await get(`${admin.adminUrl}/ui`)
  t.equal(bare.status, 302)
  t.equal(bare.headers.location, '/ui/', 'to the folder, so the page\'s relative addresses resolve')

  const page = await get(`${admin.adminUrl}/ui/`)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.text, /<script type="module" src="app.js">/)
  t.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self'/)
  t.match(page.headers['content-security-policy'], /connect-src 'self'/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.equal(page.headers['referrer-policy'], 'no-referrer')

  const script = await get(`${admin.adminUrl}/ui/app.js`)
  t.equal(script.status, 200)
  t.match(script.headers['content-type'], /^text\/javascript/)
  t.match((await get(`${admin.adminUrl}/ui/app.css`)).headers['content-type'], /^text\/css/)

  const chart = await get(`${admin.adminUrl}/ui/vendor/uPlot.esm.js`)
  t.equal(chart.status, 200, 'the chart library comes from node_modules through this listener, not a CDN')
  t.match(chart.text, /export \{ uPlot as default \}/)
  t.equal((await get(`${admin.adminUrl}/ui/vendor/uPlot.min.css`)).status, 200)
})

t.test('only the UI\'s own files are served, with validators', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  for (const path of ['/ui/nope.js', '/ui/..%2fpackage.json', '/ui/vendor/uPlot.cjs.js', '/ui/%2e%2e/%2e%2e/package.json']) {
    t.equal((await get(`${admin.adminUrl}${path}`)).status, 404, `${path} is not served`)
  }

  const first = await get(`${admin.adminUrl}/ui/app.js`)
  const etag = String(first.headers.etag)
  t.match(etag, /^"[\w-]{22}"$/)
  t.equal(first.headers['cache-control'], 'no-cache', 'checked on every load, so a new build shows at once')
  t.equal((await get(`${admin.adminUrl}/ui/app.js`, { 'if-none-match': etag })).status, 304)
  t.equal((await get(`${admin.adminUrl}/ui/app.js`, { 'if-none-match': '"other"' })).status, 200)
})

t.test('the UI\'s table holds its folder\'s files and the chart library', async (t) => {
  const assets = loadUiAssets(uiFolder)

  for (const name of ['index.html', 'app.js', 'app.css', 'api.js', 'vendor/uPlot.esm.js', 'vendor/uPlot.min.css']) t.ok(assets.has(name), name)
  t.notOk([...assets.keys()].some((name) => name.endsWith('.ts')), 'nothing but static files')
})

t.test('a build without the UI\'s files still serves the rest, and /ui says what is missing', async (t) => {
  const app = Fastify()
  const empty = tempDir(t, 'sr-ui-')
  await app.register(uiRoutes, { folder: empty })
  app.get('/healthz', async () => ({ status: 'ok' }))
  t.teardown(async () => await app.close())

  const page = await app.inject({ method: 'GET', url: '/ui/' })
  t.equal(page.statusCode, 503)
  t.match(page.body, /web UI's files are missing .* run `npm run build`/)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})

t.test('GET /api/token names the token and its role, never the secret', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })

  const reader = await admin.call('GET', '/api/token', { token: readSecret })
  t.same(reader.body, { name: 'bob', role: 'read' })
  const operator = await admin.call('GET', '/api/token', { token: operatorSecret })
  t.same(operator.body, { name: 'alice', role: 'operator' })
  t.equal((await admin.call('GET', '/api/token', { token: undefined })).status, 401)
  t.equal((await admin.call('GET', '/api/token', { token: 'not-a-configured-secret-000' })).status, 401)
})
