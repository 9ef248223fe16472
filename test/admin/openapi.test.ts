import t from 'tap'
import { quietRoute, startAdminHarness } from '../helpers/admin-api.js'

interface Operation {
  parameters?: Array<{ in: string, name: string, required?: boolean }>
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>, required?: string[] } }> }
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
  security?: unknown[]
}

t.test('GET /api/openapi.json describes every route with its parameters, body and answers', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })
  t.equal((await admin.call('GET', '/api/openapi.json', { token: undefined })).status, 401, 'the document needs a token like the rest of /api')

  const answer = await admin.call('GET', '/api/openapi.json')
  t.equal(answer.status, 200)
  const document = answer.body as { openapi: string, paths: Record<string, Record<string, Operation>>, components: { securitySchemes: object } }
  t.match(document.openapi, /^3\./)
  t.same(document.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' } })

  const listed = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
  t.same(listed.sort(), [
    'DELETE /api/routes/{route}/ignore-rules',
    'GET /api/openapi.json',
    'GET /api/routes',
    'GET /api/routes/{route}',
    'GET /api/routes/{route}/examples',
    'GET /api/routes/{route}/history',
    'GET /api/routes/{route}/report',
    'GET /api/routes/{route}/timeseries',
    'GET /api/token',
    'GET /healthz',
    'GET /metrics',
    'GET /readyz',
    'POST /api/alerts/alertmanager',
    'POST /api/alerts/webhook',
    'POST /api/routes/{route}/ignore-rules',
    'POST /api/routes/{route}/pause',
    'POST /api/routes/{route}/promote',
    'POST /api/routes/{route}/resume',
    'POST /api/routes/{route}/retry',
    'POST /api/routes/{route}/rollback',
    'POST /api/routes/{route}/set'
  ])

  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      t.ok(operation.responses['200']?.content, `${method} ${path} describes its answer`)
      if (path.startsWith('/api/')) t.same(operation.security, [{ bearerAuth: [] }], `${method} ${path} needs a token`)
      if (path.includes('{route}')) t.ok(operation.parameters?.some((parameter) => parameter.in === 'path' && parameter.name === 'route'), `${method} ${path} names its route`)
      if (method === 'post') t.ok(operation.requestBody, `${method} ${path} describes its body`)
    }
  }

  const set = document.paths['/api/routes/{route}/set']?.post
  t.same(set?.requestBody?.content['application/json']?.schema.required, ['percentage'])
  t.same(Object.keys(set?.responses ?? {}).sort(), ['200', '400', '401', '403', '404', '409', '429', '503'])
  const history = document.paths['/api/routes/{route}/history']?.get
  t.ok(history?.parameters?.some((parameter) => parameter.in === 'query' && parameter.name === 'limit'))
})
