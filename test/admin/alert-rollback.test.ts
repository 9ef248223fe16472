import t from 'tap'
import { alertFigures, describeAlerts, groupAlertsByRoute, resolveRoutes, routeLabel, type AlertmanagerAlert } from '../../src/admin/alert-rollback.js'
import { RouteCatalog } from '../../src/admin/route-view.js'
import { routeSchema } from '../../src/config/schema.js'

const catalog = new RouteCatalog(['feed', 'cart'].map((name) => routeSchema.parse({
  name, paths: [`/${name}`], baseline: { url: 'http://127.0.0.1:9' }, candidate: { url: 'http://127.0.0.1:9' }
})))

function firing (labels: Record<string, string>, annotations: Record<string, string> = {}): AlertmanagerAlert {
  return { status: 'firing', labels, annotations }
}

t.test('alerts are grouped by the route they name, firing ones only', async (t) => {
  const grouped = groupAlertsByRoute({
    alerts: [
      firing({ alertname: 'A', route: 'feed' }),
      firing({ alertname: 'B', shadowramp_route: 'feed', route: 'checkout-service' }),
      { status: 'resolved', labels: { alertname: 'C', route: 'cart' } },
      firing({ alertname: 'D', route: '' }),
      firing({ alertname: 'E' }),
      firing({ alertname: 'F', route: 'nope' }),
      firing({ alertname: 'G', route: 'nope' })
    ]
  }, catalog)

  t.same([...grouped.routes.keys()], ['feed'])
  t.same(grouped.routes.get('feed')?.map((alert) => alert.labels.alertname), ['A', 'B'], 'shadowramp_route wins over route')
  t.same(grouped.unknown, ['nope'], 'each unknown name once')
  t.same(grouped.ignored, { resolved: 1, withoutRoute: 2 })
})

t.test('`*` and `all` name every configured route', async (t) => {
  t.same(resolveRoutes(catalog, '*'), ['feed', 'cart'])
  t.same(resolveRoutes(catalog, 'all'), ['feed', 'cart'])
  t.same(resolveRoutes(catalog, 'cart'), ['cart'])
  t.same([...groupAlertsByRoute({ alerts: [firing({ route: '*' })] }, catalog).routes.keys()], ['feed', 'cart'])
  t.equal(routeLabel({ route: 'feed' }), 'feed')
  t.equal(routeLabel({}), undefined)
})

t.test('the reason names the alerts and the first summary, bounded', async (t) => {
  t.equal(describeAlerts([firing({ alertname: 'A' }, { summary: 'too many 5xx' }), firing({ alertname: 'B' }), firing({ alertname: 'A' })]), 'alert A, B firing: too many 5xx')
  t.equal(describeAlerts([firing({}, { description: 'from the description' })]), 'alert unnamed alert firing: from the description')
  const long = describeAlerts([firing({ alertname: 'A' }, { summary: 'x'.repeat(2_000) })])
  t.equal(long.length, 500)
  t.ok(long.endsWith('…'))
})

t.test('the figures keep the alerts\' labels and annotations, bounded', async (t) => {
  const alerts = Array.from({ length: 25 }, (_, index) => firing({ alertname: `A${index}`, route: 'feed' }, { runbook: 'r'.repeat(5_000) }))
  const figures = alertFigures({ receiver: 'shadowramp', groupKey: 'g', alerts }, alerts) as { alertCount: number, alerts: Array<{ labels: Record<string, string>, annotations: Record<string, string> }> }

  t.equal(figures.alertCount, 25)
  t.equal(figures.alerts.length, 10)
  t.same(figures.alerts[0]?.labels, { alertname: 'A0', route: 'feed' })
  t.equal(figures.alerts[0]?.annotations.runbook?.length, 1_001)
  t.match(figures, { source: 'alertmanager', receiver: 'shadowramp', groupKey: 'g' })
})
