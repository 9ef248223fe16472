import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { cliNodeOptions } from '../../bench/lib/node-flags.js'
import { tempDir } from '../helpers/temp-dir.js'

const mainFile = new URL('../../dist/cli/main.js', import.meta.url).pathname
const packageFile = new URL('../../package.json', import.meta.url)

t.test('the CLI starts node with a 128 MB first old-generation budget', async (t) => {
  t.same(cliNodeOptions(mainFile), ['--initial-old-space-size=128'])
})

t.test('npm start runs the demo with the options the CLI gives itself', async (t) => {
  const scripts = (JSON.parse(readFileSync(packageFile, 'utf8')) as { scripts: Record<string, string> }).scripts
  const options = cliNodeOptions(mainFile).join(' ')

  t.match(scripts.start, `node ${options} dist/cli/main.js demo`)
})

t.test('the container starts the CLI with the same options', async (t) => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
  const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? ''

  t.same(JSON.parse(entrypoint), ['node', ...cliNodeOptions(mainFile), 'dist/cli/main.js'])
})

t.test('the first line runs: executed directly, the CLI answers', async (t) => {
  // A copy beside the original keeps its imports working and leaves dist/ as built.
  const copy = join(new URL('../../dist/cli/', import.meta.url).pathname, `main-${process.pid}.js`)
  copyFileSync(mainFile, copy)
  t.teardown(() => { rmSync(copy, { force: true }) })
  chmodSync(copy, 0o755)
  const cwd = tempDir(t, 'sr-cli-')

  const run = spawnSync(copy, ['--help'], { cwd, encoding: 'utf8' })

  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /usage: shadowramp <command>/, 'the usage asked for, on stdout')

  const bare = spawnSync(copy, [], { cwd, encoding: 'utf8' })
  t.equal(bare.status, 2, 'no command is a usage mistake')
  t.match(bare.stderr, /^usage: shadowramp <command>/, 'its usage on stderr')
  t.equal(bare.stdout, '')

  const mistyped = spawnSync(copy, ['frobnicate'], { cwd, encoding: 'utf8' })
  t.equal(mistyped.status, 2, 'an unknown command is a usage mistake')
  t.match(mistyped.stderr, /^shadowramp: unknown command frobnicate\n\nusage: shadowramp <command>/, 'named before the usage')
})

t.test('a CLI whose first line is not the expected one is named, not guessed', async (t) => {
  const dir = tempDir(t, 'sr-cli-')
  const file = join(dir, 'main.js')
  copyFileSync(new URL('../../package.json', import.meta.url), file)

  t.throws(() => cliNodeOptions(file), /does not start with "#!\/usr\/bin\/env -S node"/)
})

t.test('a command asked for --help answers with the usage; an option it does not take is a usage mistake', async (t) => {
  const cwd = tempDir(t, 'sr-cli-')

  const help = spawnSync(process.execPath, [mainFile, 'serve', '--help'], { cwd, encoding: 'utf8' })
  t.equal(help.status, 0, help.stderr)
  t.match(help.stdout, /usage: shadowramp <command>/)

  const wrong = spawnSync(process.execPath, [mainFile, 'serve', '--bogus'], { cwd, encoding: 'utf8' })
  t.equal(wrong.status, 2)
  t.match(wrong.stderr, /^shadowramp: Unknown option '--bogus'/, 'named in one line')
  t.notMatch(wrong.stderr, /\n\s+at /, 'without a stack trace')

  const missing = spawnSync(process.execPath, [mainFile, 'worker', '--config'], { cwd, encoding: 'utf8' })
  t.equal(missing.status, 2)
  t.match(missing.stderr, /argument missing/)
})
