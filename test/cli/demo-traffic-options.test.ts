import { spawnSync } from 'node:child_process'
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
