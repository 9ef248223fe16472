import type { RouteView } from '../admin/route-view.js'
import type { HistoryEntry } from '../store/rollout-store.js'

/** A history entry as the admin API sends it: the time as ISO 8601. */
export type HistoryLine = Omit<HistoryEntry, 'at'> & { at: string }

/** One route's block for `shadowramp status`. */
export function formatRouteStatus (route: RouteView, now: number): string {
  const lines = [
    route.name,
    `  percentage   ${route.percentage}% of live requests on the candidate`,
    `  status       ${describeStatus(route)}`,
    `  waiting for  ${route.waitingFor ?? describeIdle(route)}`,
    `  divergence   ${describeDivergence(route.divergence, route.plan !== null && route.stepStartedAt !== null, now)}`,
    `  last change  ${describeChange(route, now)}`
  ]

  return lines.join('\n')
}

/** The line an action prints: where the route stands after it. */
export function formatRouteLine (route: RouteView): string {
  const waiting = route.waitingFor === null ? '' : ` — ${route.waitingFor}`

  return `${route.name}: ${route.percentage}% · ${describeStatus(route)}${waiting}`
}

/** `shadowramp history`: one change a line, newest first. */
export function formatHistory (entries: readonly HistoryLine[]): string {
  if (entries.length === 0) return 'no changes recorded yet'

  const actionWidth = Math.max(...entries.map((entry) => entry.action.length))
  const moveWidth = Math.max(...entries.map((entry) => describeMove(entry).length))
  const actorWidth = Math.max(...entries.map((entry) => entry.actor.length))

  return entries.map((entry) => [
    entry.at.replace(/\.\d{3}Z$/, 'Z'),
    entry.action.padEnd(actionWidth),
    describeMove(entry).padEnd(moveWidth),
    entry.actor.padEnd(actorWidth),
    entry.reason
  ].join('  ')).join('\n')
}

function describeStatus (route: RouteView): string {
  const { step, plan } = route
  if (step === null || plan === null) return `${route.status} (no plan)`
  // Rolled back to 0%, a route keeps the first step for a retry to start
  // from; shown as its step, "step 1/4 (10%)" read as 10% served.
  const belowStep = route.status === 'rolled-back' && route.percentage < step.percentage
  if (belowStep) return `${route.status} · a retry starts at step 1/${step.of} (${plan.steps[0]}%)`

  return `${route.status} · step ${step.index + 1}/${step.of} (${step.percentage}%)`
}

function describeIdle (route: RouteView): string {
  return route.plan === null ? 'nothing: without a plan the percentage moves only by hand' : 'nothing'
}

function describeDivergence (divergence: RouteView['divergence'], fromStep: boolean, now: number): string {
  const age = describeAge(divergence.from, now)
  const window = fromStep ? `this step, since ${age}` : `last ${age.replace(/ ago$/, '')}`
  if (divergence.rate === null) return `no pairs compared (${window})`

  const percent = (divergence.rate * 100).toFixed(2)
  return `${percent}% (${divergence.diverging} of ${divergence.compared} compared; ${window})`
}

function describeChange (route: RouteView, now: number): string {
  const when = route.updatedAt === null ? 'not yet recorded' : describeAge(route.updatedAt, now)

  return `${when} by ${route.actor}: ${route.reason}`
}

function describeMove (entry: HistoryLine): string {
  return entry.from === entry.to ? `${entry.to}%` : `${entry.from}% → ${entry.to}%`
}

/** "45s ago", "12m ago", "3h ago", "2d ago". */
export function describeAge (iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1_000))
  if (seconds < 120) return `${seconds}s ago`
  if (seconds < 2 * 3_600) return `${Math.round(seconds / 60)}m ago`
  if (seconds < 2 * 86_400) return `${Math.round(seconds / 3_600)}h ago`

  return `${Math.round(seconds / 86_400)}d ago`
}
