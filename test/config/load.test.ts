import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { loadConfig, parseConfig, type ConfigProblem } from '../../src/config/load.js'
import { tempDir } from '../helpers/temp-dir.js'

const valid = `
listen: { host: 127.0.0.1, port: 8080 }
routes:
  - name: products
    paths: [/products, /products/:id]
    baseline: { url: http://127.0.0.1:3001 }
    candidate: { url: http://127.0.0.1:3002, timeoutMs: 500 }
    percentage: 12.5
`

function problemsOf (text: string, env: Record<string, string> = {}): ConfigProblem[] {
  try {
    parseConfig(text, 'routes.yaml', env)
  } catch (error) {
    return (error as { problems: ConfigProblem[] }).problems
  }
  throw new Error('expected the configuration to be rejected')
}

t.test('a valid file gets its defaults and comes back frozen', async (t) => {
  const config = parseConfig(valid, 'routes.yaml')
  const route = config.routes[0]
  t.equal(route?.percentage, 12.5)
  t.equal(route?.baseline.timeoutMs, 2_000, 'the default timeout')
  t.equal(route?.candidate.timeoutMs, 500)
  t.equal(route?.stickyKey, 'header:x-user-id')
  t.equal(config.redis.url, 'redis://127.0.0.1:6379')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.routes[0]?.baseline), 'deeply frozen')
})

t.test('every problem is reported at once, in the order of the file, with file, line, column, path, expected and found', async (t) => {
  const text = `
listen: { host: 127.0.0.1, port: "eighty" }
routes:
  - name: Products
    paths: [products]
    baseline: { url: ftp://example.test }
    candidate: { url: http://127.0.0.1:3002, timeoutMs: -5 }
    percentage: 100.5
    stickyKey: session
    colour: blue
`
  const problems = problemsOf(text)
  const lines = problems.map((problem) => `${problem.line}:${problem.column} ${problem.path}: expected ${problem.expected}, found ${problem.found}`)

  t.same(lines, [
    '2:34 listen.port: expected a port number, found "eighty"',
    '4:11 routes[0].name: expected a route name of lowercase letters, digits, - and _ (at most 63), found "Products"',
    '5:13 routes[0].paths[0]: expected a path pattern starting with / without query or spaces, found "products"',
    '6:22 routes[0].baseline.url: expected an http:// or https:// URL, found "ftp://example.test"',
    '7:57 routes[0].candidate.timeoutMs: expected a number of milliseconds above 0, found -5',
    '8:17 routes[0].percentage: expected a percentage from 0 to 100, found 100.5',
    '9:16 routes[0].stickyKey: expected header:<name>, cookie:<name> or client-address, found "session"',
    '10:5 routes[0]: expected only known keys, found unknown key "colour"'
  ])
})

t.test('a percentage finer than 0.01 is refused', async (t) => {
  const [problem] = problemsOf(valid.replace('12.5', '12.345'))
  t.equal(problem?.path, 'routes[0].percentage')
  t.equal(problem?.expected, 'a percentage in steps of 0.01')
})

t.test('pairs may wait in memory up to 1 GiB, not more', async (t) => {
  const shadow = (bytes: number): string => `${valid}shadow: { maxPendingBytes: ${bytes} }\n`
  t.equal(parseConfig(shadow(2 ** 30), 'routes.yaml', {}).shadow.maxPendingBytes, 2 ** 30)
  const [problem] = problemsOf(shadow(2 ** 30 + 1))
  t.match(problem, { path: 'shadow.maxPendingBytes', expected: 'a number of bytes up to 1 GiB (1073741824)', found: '1073741825' })
})

t.test('missing sections name what is missing', async (t) => {
  const problems = problemsOf('listen: { port: 1 }\n')
  t.equal(problems.length, 1)
  t.match(problems[0], { path: 'routes', expected: 'a list of routes', found: 'nothing' })
})

t.test('duplicate route names and path patterns are refused', async (t) => {
  const twice = `${valid}  - name: products\n    paths: [/products]\n    baseline: { url: http://a.test }\n    candidate: { url: http://b.test }\n`
  const problems = problemsOf(twice)
  t.same(problems.map((problem) => problem.path).sort(), ['routes[1].name', 'routes[1].paths[0]'])
  t.match(problems.find((problem) => problem.path === 'routes[1].paths[0]'), { expected: 'a path pattern not already used by route products' })
})

t.test('a static fallback needs exactly one of file or url', async (t) => {
  const text = valid + '    fallback: { static: { file: a.json, url: "http://cdn.test/a.json" } }\n'
  t.match(problemsOf(text)[0], { path: 'routes[0].fallback.static', expected: 'exactly one of file or url' })
})

t.test('broken YAML is reported with its position', async (t) => {
  const [problem] = problemsOf('routes:\n  - name: [unclosed\n')
  t.equal(problem?.expected, 'valid YAML')
  t.equal(problem?.line, 3)
})

t.test('${VAR} and ${VAR:-default} are filled from the environment, typed in place', async (t) => {
  const text = valid
    .replace('port: 8080', 'port: "${PORT:-8080}"')
    .replace('http://127.0.0.1:3001', '"${BASELINE}"')
  const config = parseConfig(text, 'routes.yaml', { BASELINE: 'http://10.1.2.3:9000', PORT: '9999' })
  t.equal(config.listen.port, 9999, 'a number, not the string "9999"')
  t.equal(config.routes[0]?.baseline.url, 'http://10.1.2.3:9000')
  t.equal(parseConfig(text, 'routes.yaml', { BASELINE: 'http://x.test' }).listen.port, 8080, 'the default applies')

  const problems = problemsOf(text)
  t.equal(problems.length, 1, 'an unset variable is one problem, not also the empty value it leaves')
  t.match(problems[0], { path: 'routes[0].baseline.url', expected: 'environment variable BASELINE to be set' })
})

t.test('each problem is one line, and says what was found', async (t) => {
  const negative = problemsOf(valid.replace('12.5', '-1'))
  t.same(negative.map((problem) => `${problem.expected}, found ${problem.found}`), ['a percentage from 0 to 100, found -1'], 'out of range is not also "not in steps of 0.01"')

  const falling = problemsOf(`${valid}    plan: { steps: [50, 10] }\n`)
  t.same(falling.map((problem) => `${problem.path}: ${problem.found}`).sort(), ['routes[0].plan.steps: [50, 10]', 'routes[0].plan.steps: [50, 10]'])

  const none = problemsOf('routes: []\n')
  t.match(none, [{ path: 'routes', expected: 'at least one route', found: 'an empty list' }])
})

t.test('REDIS_URL and SHADOWRAMP_<ROUTE>_*_URL override the file', async (t) => {
  const config = parseConfig(valid, 'routes.yaml', {
    REDIS_URL: 'redis://:secret@10.0.0.9:6380',
    SHADOWRAMP_PRODUCTS_CANDIDATE_URL: 'https://candidate.internal'
  })
  t.equal(config.redis.url, 'redis://:secret@10.0.0.9:6380')
  t.equal(config.routes[0]?.candidate.url, 'https://candidate.internal')
  t.equal(config.routes[0]?.candidate.timeoutMs, 500, 'the rest of the backend stays')

  const [problem] = problemsOf(valid, { SHADOWRAMP_PRODUCTS_BASELINE_URL: 'not a url' })
  t.match(problem, { path: 'routes[0].baseline.url', found: '"not a url"' })
})

t.test('the serve command stops with one line per problem and exit code 2', async (t) => {
  const dir = tempDir(t, 'sr-config-')
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'listen: { port: -1 }\nroutes: []\n')
  const result = spawnSync(process.execPath, ['dist/cli/main.js', 'serve', '--config', file], { encoding: 'utf8', timeout: 20_000 })

  t.equal(result.status, 2)
  const lines = result.stderr.trim().split('\n')
  t.equal(lines[0], 'shadowramp: configuration is invalid:')
  t.same(lines.slice(1), [
    `${file}:1:17 listen.port: expected a port from 0 to 65535, found -1`,
    `${file}:2:9 routes: expected at least one route, found an empty list`
  ])
})

t.test('an unreadable file is one clear line', async (t) => {
  t.throws(() => loadConfig('/nonexistent/shadowramp.yaml'), { code: 'SR_ERR_CONFIG_UNREADABLE', message: /cannot read configuration file \/nonexistent\/shadowramp.yaml/ })
})

t.test('a body kept for a pair is at most 64 MiB', async (t) => {
  const shadow = (bytes: number): string => `${valid}shadow: { maxBodyBytes: ${bytes} }\n`
  t.equal(parseConfig(shadow(64 * 1024 * 1024), 'routes.yaml', {}).shadow.maxBodyBytes, 64 * 1024 * 1024)
  const [problem] = problemsOf(shadow(64 * 1024 * 1024 + 1))
  t.match(problem, { path: 'shadow.maxBodyBytes', expected: 'a number of bytes up to 64 MiB (67108864)', found: '67108865' })
})
