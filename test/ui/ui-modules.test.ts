import t from 'tap'
import { renderPath, type PathStep } from '../../src/diff/field-path.js'

/*
 * The parts of the web UI that need no page: how it writes field paths
 * (they must match the diff engine's, or a difference's `at` finds
 * nothing to highlight), how it reads bodies, and what it says when the
 * API refuses. The browser test covers the rest against the real demo.
 */

interface TreeNode { type: string, raw?: string }
interface JsonView {
  appendStep: (path: string, step: PathStep, collapse?: boolean) => string
  parseJsonTree: (text: string) => TreeNode | undefined
  canonical: (node: TreeNode | undefined) => string | undefined
  findNode: (tree: TreeNode, path: string) => TreeNode | undefined
  walk: (tree: TreeNode, path: string, collapsed: string, visit: (node: TreeNode, path: string, collapsed: string) => void) => void
}
interface ApiModule {
  callApi: (method: string, path: string, options?: { body?: unknown }) => Promise<unknown>
  describeError: (error: unknown) => string
  ApiError: new (status: number, code: string, message: string, retryAfter?: string) => Error
  keepToken: (token: string) => void
  forgetToken: () => void
}

// Imported by address: they are browser modules without type declarations.
const load = async <Module>(name: string): Promise<Module> => await import(new URL(`../../src/admin/ui/${name}`, import.meta.url).href) as Module

t.test('the UI writes field paths as the diff engine does', async (t) => {
  const { appendStep } = await load<JsonView>('json-view.js')
  const paths: PathStep[][] = [
    ['items', 3, 'price'], [0, 'id'], ['labels', 'en-GB.title'], ['@type'], [''], ['a b', 2, 'c-d', '$x'], [1, 2, 3], []
  ]

  for (const steps of paths) {
    for (const collapse of [false, true]) {
      const written = steps.reduce<string>((path, step) => appendStep(path, step, collapse), '')
      t.equal(written, renderPath(steps, collapse), `${JSON.stringify(steps)}${collapse ? ' collapsed' : ''}`)
    }
  }
})

t.test('bodies are read with numbers as written and keys in order', async (t) => {
  const { parseJsonTree, canonical, findNode, walk } = await load<JsonView>('json-view.js')
  const tree = parseJsonTree('[{"id": 9007199254740993, "b": 1.0, "a": "x\\"y", "n": null}, {"id": 2}]') as TreeNode

  t.equal(findNode(tree, '[0].id')?.raw, '9007199254740993', 'an id past 2^53 is not rounded')
  t.equal(findNode(tree, '[1].id')?.raw, '2')
  const visited: string[] = []
  walk(tree, '', '', (_node, path, collapsed) => visited.push(`${path}|${collapsed}`))
  t.same(visited, ['|', '[0]|[*]', '[0].id|[*].id', '[0].b|[*].b', '[0].a|[*].a', '[0].n|[*].n', '[1]|[*]', '[1].id|[*].id'])

  t.equal(canonical(parseJsonTree('{"a": 1.0}')), canonical(parseJsonTree('{ "a" : 1 }')), '1.0 and 1 are the same number')
  t.not(canonical(parseJsonTree('9007199254740993')), canonical(parseJsonTree('9007199254740992')), 'big integers compare by their digits')
  t.not(canonical(parseJsonTree('1')), canonical(parseJsonTree('"1"')), 'a number is not a string')
  t.equal(canonical(parseJsonTree('"\\u0041"')), canonical(parseJsonTree('"A"')))

  for (const text of ['{"a": 1', '[1, 2,]', '{"a" 1}', '"open', '01', '{} {}', '']) t.equal(parseJsonTree(text), undefined, `${JSON.stringify(text)} is not JSON`)
  t.equal(parseJsonTree('['.repeat(500) + ']'.repeat(500)), undefined, 'too deep: shown as text')
  t.ok(parseJsonTree('['.repeat(150) + ']'.repeat(150)), 'deep enough for real bodies')
})

t.test('the API client sends the token as a bearer token and explains each refusal', async (t) => {
  const stored = new Map<string, string>()
  const calls: Array<{ url: string, init: RequestInit }> = []
  const answers: Response[] = []
  const globals = globalThis as Record<string, unknown>
  const saved = { sessionStorage: globals.sessionStorage, fetch: globals.fetch }
  globals.sessionStorage = {
    getItem: (key: string) => stored.get(key) ?? null,
    setItem: (key: string, value: string) => stored.set(key, value),
    removeItem: (key: string) => stored.delete(key)
  }
  globals.fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init })
    const answer = answers.shift()
    if (answer === undefined) throw new TypeError('fetch failed')
    return answer
  }
  t.teardown(() => Object.assign(globals, saved))
  const api = await load<ApiModule>('api.js')
  const refusal = async (call: Promise<unknown>): Promise<string> => await call.then(() => 'resolved', (error: unknown) => api.describeError(error))
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })

  t.match(await refusal(api.callApi('GET', '/routes')), /401.*enter a token/, 'no token: nothing is sent')
  t.equal(calls.length, 0)

  api.keepToken('a-token-of-sixteen-chars')
  answers.push(json(200, [{ name: 'orders' }]))
  t.same(await api.callApi('GET', '/routes'), [{ name: 'orders' }])
  t.equal(calls[0]?.url, '/api/routes', 'the token is not in the address')
  t.equal((calls[0]?.init.headers as Record<string, string>).authorization, 'Bearer a-token-of-sixteen-chars')

  answers.push(json(200, { percentage: 0 }))
  await api.callApi('POST', '/routes/orders/pause', { body: { reason: 'lunch' } })
  t.equal(calls[1]?.init.body, '{"reason":"lunch"}')
  t.equal((calls[1]?.init.headers as Record<string, string>)['content-type'], 'application/json')

  const cases: Array<[Response | undefined, RegExp]> = [
    [json(401, { error: 'unknown token', code: 'SR_ERR_TOKEN_UNKNOWN' }), /token was refused \(401\): unknown token/],
    [json(403, { error: 'token bob may only read', code: 'SR_ERR_READ_ONLY_TOKEN' }), /may only read \(403\).*operator token/],
    [json(409, { error: 'route orders cannot do that: it is rolled back', code: 'SR_ERR_ACTION_REFUSED' }), /refused the action \(409\): route orders cannot do that/],
    [json(429, { error: 'too many', code: 'SR_ERR_RATE_LIMITED' }, { 'retry-after': '12' }), /Too many changes .*\(429\): try again in 12 s/],
    [json(503, { error: 'redis is unreachable', code: 'SR_ERR_STATE_UNAVAILABLE' }), /unavailable \(503\)/],
    [new Response('<html>bad gateway</html>', { status: 502 }), /answered 502 \(unknown\): <html>bad gateway/],
    [undefined, /did not answer: is shadowramp still running/]
  ]
  for (const [answer, message] of cases) {
    if (answer !== undefined) answers.push(answer)
    t.match(await refusal(api.callApi('GET', '/routes')), message)
  }
  t.match(api.describeError(new Error('boom')), /in the page: boom/)

  api.forgetToken()
  t.equal(stored.size, 0, 'forgetting the token removes it')
})
