// Runs Prometheus's and Alertmanager's own checkers on dashboards/: the
// alert rules' unit tests (dashboards/prometheus/alert-rules.test.yml),
// the Prometheus configuration, and the Alertmanager routing of rollback
// alerts. Needs promtool and amtool (Debian: prometheus and
// prometheus-alertmanager), which the test suite does not install.
import { spawnSync } from 'node:child_process'

function run (command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 })
  if (result.error?.code === 'ENOENT') {
    console.error(`${command} is not installed: apt-get install prometheus prometheus-alertmanager`)
    process.exit(2)
  }
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` }
}

const failures = []
const expect = (label, ok, output = '') => {
  console.log(`${ok ? 'ok' : 'FAILED'}  ${label}`)
  if (!ok) failures.push(`${label}\n${output}`)
}

let result = run('promtool', ['test', 'rules', 'dashboards/prometheus/alert-rules.test.yml'])
expect('the alert rules fire for the routes their unit tests expect', result.status === 0, result.output)
result = run('promtool', ['check', 'config', 'dashboards/prometheus/prometheus.yml'])
expect('promtool accepts the Prometheus configuration and its rule files', result.status === 0, result.output)
result = run('amtool', ['check-config', 'dashboards/alertmanager/alertmanager.yml'])
expect('amtool accepts the Alertmanager configuration', result.status === 0, result.output)

const receiver = (labels) => run('amtool', ['config', 'routes', 'test', '--config.file=dashboards/alertmanager/alertmanager.yml', ...labels]).output.split('\n')[0]?.trim()
const rollback = ['alertname=ShadowrampDivergenceHigh', 'shadowramp_action=rollback']
expect('a rollback alert with a route goes to shadowramp', receiver([...rollback, 'route=orders']) === 'shadowramp-rollback')
expect('a rollback alert without a route goes to on-call', receiver(rollback) === 'on-call')
expect('another team\'s alert with a route label goes to on-call', receiver(['alertname=SomethingElse', 'route=orders']) === 'on-call')

for (const failure of failures) console.error(`\n${failure}`)
process.exitCode = failures.length === 0 ? 0 : 1
