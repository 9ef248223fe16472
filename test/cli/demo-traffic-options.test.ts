import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'

/** The demo's traffic driver run with these arguments; it must stop before sending anything. */
function traffic (...args: string[]) {
  return spawnSync(process.execPath, ['dist/demo/traffic.js', '--url', 'http://127.0.0.1:1', ...args], { encoding: 'utf8', timeout: 10_000 })
}

t.test('the demo traffic driver refuses a bad flag in one line, without a stack trace', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--bogus'], /^demo:traffic: Unknown option '--bogus'; options: --url, --rate, --duration, --users\n$/],
    [['--rate', '-5'], /^demo:traffic: Option '--rate' argument is ambiguous; options: --url, --rate, --duration, --users\n$/],
    [['--rate=-5'], /^demo:traffic: --rate must be a number from 1 to 2000, got -5\n$/]
  ]
  for (const [args, expected] of cases) {
    const run = traffic(...args)
    t.equal(run.status, 2, `${args.join(' ')} exits with 2`)
    t.match(run.stderr, expected, `${args.join(' ')} says why`)
    t.equal(run.stdout, '', `${args.join(' ')} sends nothing`)
  }
})

t.test('the demo traffic driver names who served in a fixed order and ends with the run\'s totals', async (t) => {
  // A stand-in gateway: every third answer from the candidate, the rest from the baseline.
  let answered = 0
  const server = createServer((request, response) => {
    request.resume()
    const servedBy = answered++ % 3 === 0 ? 'candidate' : 'baseline'
    response.writeHead(200, { 'content-type': 'application/json', 'x-served-by': servedBy }).end('{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const child = spawn(process.execPath, ['dist/demo/traffic.js', '--url', url, '--rate', '40', '--duration', '6'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  const code = await new Promise((resolve) => child.on('close', resolve))

  t.equal(code, 0)
  const served = [...stdout.matchAll(/served by ([^·]+) ·/g)].map((match) => match[1]?.trim() ?? '')
  t.ok(served.length >= 2, `a line every five seconds (${served.length})`)
  t.ok(served.every((line) => /^baseline \d+, candidate \d+$/.test(line)), `baseline first on every line: ${served.join(' | ')}`)
  const done = /^done: sent (\d+), answered (\d+), errors 0$/m.exec(stdout)
  t.ok(done !== null, 'the last line gives the totals')
  t.equal(done?.[2], String(answered), 'every answer the server gave, counted once')
  t.equal(done?.[1], done?.[2], 'all of them answered')
})
