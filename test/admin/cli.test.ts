import { spawn } from 'node:child_process'
import t, { type Test } from 'tap'
import { closedPort } from '../helpers/http.js'
import { operatorSecret, quietRoute, readSecret, startAdminHarness, testPlan } from '../helpers/admin-api.js'

interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built CLI as its own process (asynchronously: the admin API answers from this one). */
async function runCli (args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, SHADOWRAMP_TOKEN: undefined, SHADOWRAMP_ADMIN_URL: undefined, ...env }
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name]

  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

function oneLine (t: Test, run: CliRun, pattern: RegExp, code = 1): void {
  t.equal(run.code, code, 'exit code')
  t.equal(run.stdout, '', 'nothing on stdout')
  t.equal(run.stderr.trimEnd().split('\n').length, 1, 'one line on stderr')
  t.match(run.stderr, pattern)
}

t.test('status prints each route for people, and the API\'s JSON with --json', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 5 }), quietRoute('misc', { percentage: 2 })] })
  const env = { SHADOWRAMP_ADMIN_URL: admin.adminUrl, SHADOWRAMP_TOKEN: readSecret }

  const [text, one, json] = await Promise.all([runCli(['status'], env), runCli(['status', 'misc'], env), runCli(['status', '--json'], env)])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /^feed\n {2}percentage {3}5% of live requests on the candidate\n {2}status {7}manual · step 2\/4 \(5%\)\n {2}waiting for {2}the controller to start the plan\n {2}divergence {3}no pairs compared \(last 10m\)\n {2}last change {2}\d+s ago by config: initial percentage from configuration\n\nmisc\n/)
  t.match(text.stdout, /misc\n {2}percentage {3}2% of live requests on the candidate\n {2}status {7}manual \(no plan\)\n {2}waiting for {2}nothing: without a plan the percentage moves only by hand/)

  t.match(one.stdout, /^misc\n/)
  t.notMatch(one.stdout, /feed/)

  t.equal(json.code, 0, json.stderr)
  const printed = JSON.parse(json.stdout) as Array<Record<string, unknown>>
  const api = (await admin.call('GET', '/api/routes')).body as Array<Record<string, unknown>>
  const withoutWindow = (views: Array<Record<string, unknown>>): unknown => views.map(({ divergence: _divergence, ...rest }) => rest)
  t.same(withoutWindow(printed), withoutWindow(api), 'the same JSON as GET /api/routes')
})

t.test('the action verbs change the rollout through the API, and history shows them', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan, percentage: 1 })] })
  const env = { SHADOWRAMP_ADMIN_URL: admin.adminUrl, SHADOWRAMP_TOKEN: operatorSecret }

  const set = await runCli(['set', 'feed', '25', '--reason', 'customers asked'], env)
  t.equal(set.code, 0, set.stderr)
  t.equal(set.stdout, 'feed: 25% · paused · step 3/4 (25%) — paused: the percentage was set by hand; resume to let the plan continue\n')
  t.match((await admin.call('GET', '/api/routes/feed')).body, { percentage: 25, actor: 'alice', reason: 'customers asked' })

  const steps: Array<[string[], RegExp]> = [
    [['resume', 'feed'], /^feed: 25% · ramping · step 3\/4 \(25%\) — the first analysis of this step \(every 10 s\)\n$/],
    [['pause', 'feed', '--reason', 'lunch'], /^feed: 25% · paused · step 3\/4 \(25%\) — paused by alice/],
    [['promote', 'feed'], /^feed: 100% · complete · step 4\/4 \(100%\)/],
    [['rollback', 'feed'], /^feed: 0% · rolled-back · a retry starts at step 1\/4 \(1%\) — rolled back: waiting for a person to retry/],
    [['retry', 'feed'], /^feed: 1% · ramping · step 1\/4 \(1%\)/]
  ]
  for (const [args, expected] of steps) {
    const run = await runCli(args, env)
    t.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
    t.match(run.stdout, expected, args.join(' '))
  }

  const history = await runCli(['history', 'feed', '--limit', '3'], { ...env, SHADOWRAMP_TOKEN: readSecret })
  t.equal(history.code, 0, history.stderr)
  const lines = history.stdout.trimEnd().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}retry {6}0% → 1% {5}alice {2}no reason given$/)
  t.match(lines[1], /roll-back {2}100% → 0% {3}alice {2}no reason given$/)

  const json = await runCli(['history', 'feed', '--json'], { ...env, SHADOWRAMP_TOKEN: readSecret })
  const entries = JSON.parse(json.stdout) as Array<{ action: string, reason: string }>
  t.same(entries.map((entry) => entry.action), ['retry', 'roll-back', 'promote', 'pause', 'resume', 'set'])
  t.equal(entries.at(-1)?.reason, 'customers asked')
})

t.test('failures print one line on stderr and exit nonzero', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed', { plan: testPlan }), quietRoute('misc')], admin: { operatorActionsPerMinute: 1 } })
  const env = { SHADOWRAMP_ADMIN_URL: admin.adminUrl, SHADOWRAMP_TOKEN: operatorSecret }

  oneLine(t, await runCli(['retry', 'feed'], env), /^shadowramp: route feed cannot do that: only a rolled-back route can be retried \(HTTP 409, SR_ERR_ACTION_REFUSED\)$/m)
  oneLine(t, await runCli(['pause', 'feed'], env), /^shadowramp: .*\(HTTP 429, SR_ERR_RATE_LIMITED\)$/m)

  const port = await closedPort()
  const unreachable = `http://127.0.0.1:${port}`
  // Independent of each other and of the rate limit: run side by side.
  const cases: Array<[string[], Record<string, string | undefined>, RegExp, number?]> = [
    [['status'], { SHADOWRAMP_ADMIN_URL: admin.adminUrl }, /\(HTTP 401, SR_ERR_TOKEN_MISSING\); set SHADOWRAMP_TOKEN/],
    [['status'], { ...env, SHADOWRAMP_TOKEN: 'not-a-token-at-all-0000' }, /\(HTTP 401, SR_ERR_TOKEN_UNKNOWN\)/],
    [['set', 'misc', '10'], { ...env, SHADOWRAMP_TOKEN: readSecret }, /token bob has the read role.*\(HTTP 403, SR_ERR_READ_ONLY_TOKEN\)/],
    [['status', 'nope'], env, /^shadowramp: unknown route nope: this gateway has routes feed, misc \(HTTP 404, SR_ERR_UNKNOWN_ROUTE\)$/m],
    [['status', '--admin', unreachable], env, new RegExp(`cannot reach the admin API at ${unreachable} \\(connection refused\\)`)],
    [['status'], { ...env, SHADOWRAMP_ADMIN_URL: unreachable }, /cannot reach the admin API/],
    [['set', 'feed', 'lots'], env, /a percentage from 0 to 100 is needed, got lots/, 2],
    [['set', 'feed', '150'], env, /^shadowramp: a percentage from 0 to 100 is needed, got 150$/m, 2],
    [['rollback', 'feed', '--reason', ''], env, /^shadowramp: --reason wants some text; leave it out to record "no reason given"$/m, 2],
    [['pause', 'feed', '--reason', '  '], env, /^shadowramp: --reason wants some text/m, 2],
    [['set', 'feed', '--', '-1'], env, /^shadowramp: a percentage from 0 to 100 is needed, got -1$/m, 2],
    [['set', 'feed', '-5'], env, /^shadowramp: a percentage from 0 to 100 is needed, got -5$/m, 2],
    [['set', 'feed', '--reason=-5 is what ops asked', '101'], env, /^shadowramp: a percentage from 0 to 100 is needed, got 101$/m, 2],
    [['pause'], env, /usage: shadowramp pause <route>/, 2],
    [['status', 'feed', 'misc'], env, /^shadowramp: usage: shadowramp status \[route\] \[--json\]; not taken: misc$/m, 2],
    [['retry', 'feed', '10'], env, /^shadowramp: usage: shadowramp retry <route> \[--reason text\]; not taken: 10$/m, 2],
    [['set', 'feed', '10', '20'], env, /^shadowramp: usage: shadowramp set <route> <percentage> \[--reason text\]; not taken: 20$/m, 2],
    [['history', 'feed', 'misc'], env, /^shadowramp: usage: shadowramp history <route> \[--limit N\] \[--json\]; not taken: misc$/m, 2],
    [['history', 'feed', '--limit', 'x'], env, /--limit wants a number/, 2],
    [['history', 'feed', '--limit', '0'], env, /^shadowramp: --limit wants a number of entries from 1 to 1000, got 0$/m, 2],
    [['history', 'feed', '--limit', '1001'], env, /^shadowramp: --limit wants a number of entries from 1 to 1000, got 1001$/m, 2],
    [['status', '--admin', 'ftp://127.0.0.1'], env, /--admin .* wants the admin listener's http/, 2],
    [['status', '--colour'], env, /Unknown option '--colour'/, 2]
  ]
  const runs = await Promise.all(cases.map(async ([args, caseEnv]) => await runCli(args, caseEnv)))
  cases.forEach(([args, _env, pattern, code], index) => {
    t.test(args.join(' '), async (t) => { oneLine(t, runs[index] as CliRun, pattern, code) })
  })

  t.equal((await admin.call('GET', '/api/routes/misc')).body.version, 1, 'nothing changed')
})

t.test('--admin wins over SHADOWRAMP_ADMIN_URL', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('feed')] })
  const port = await closedPort()

  const run = await runCli(['status', 'feed', '--admin', admin.adminUrl], { SHADOWRAMP_ADMIN_URL: `http://127.0.0.1:${port}`, SHADOWRAMP_TOKEN: readSecret })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /^feed\n/)
})

t.test('a route without a plan, rolled back, says to set its percentage by hand, not to retry', async (t) => {
  const admin = await startAdminHarness(t, { routes: [quietRoute('carts', { percentage: 10 })] })
  const env = { SHADOWRAMP_ADMIN_URL: admin.adminUrl, SHADOWRAMP_TOKEN: operatorSecret }
  const byHand = 'set the percentage by hand with shadowramp set carts <percentage>'

  const rollback = await runCli(['rollback', 'carts'], env)
  t.equal(rollback.code, 0, rollback.stderr)
  t.equal(rollback.stdout, `carts: 0% · rolled-back (no plan) — rolled back: no plan to retry; ${byHand}\n`)

  const status = await runCli(['status', 'carts'], env)
  t.match(status.stdout, `  waiting for  rolled back: no plan to retry; ${byHand}\n`)
  t.notMatch(status.stdout, /waiting for a person to retry/)

  oneLine(t, await runCli(['retry', 'carts'], env), /^shadowramp: route carts cannot do that: retry needs a plan, and the route has none in its configuration; set the percentage by hand instead with shadowramp set carts <percentage> \(HTTP 409, SR_ERR_ACTION_REFUSED\)$/m)
})
