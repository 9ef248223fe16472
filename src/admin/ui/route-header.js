// The top of a route's pages: where its rollout stands, what the
// controller waits for, the plan, and the operator actions.

import { showAlert } from './alert.js'
import {
  actionButton, fill, formatAgo, formatCount, formatPercentage, formatRate, formatStep, h,
  statusBadge, statusLabel
} from './dom.js'

/** How often the header reads the route again while shown. */
const refreshMs = 5_000

const actions = [
  { action: 'pause', label: 'Pause', done: 'paused' },
  { action: 'resume', label: 'Resume', done: 'resumed' },
  { action: 'promote', label: 'Promote', done: 'promoted' },
  { action: 'rollback', label: 'Roll back', done: 'rolled back' },
  { action: 'retry', label: 'Retry', done: 'retried' }
]

/**
 * Which actions the route can take now, and why not when it cannot: the
 * same rules the API applies, so a button is not offered only to be
 * refused with 409 (the API still has the last word).
 */
export function actionAvailability (view) {
  const noPlan = view.plan === null ? 'the route has no plan' : undefined
  const rolledBack = view.status === 'rolled-back' ? 'the route is rolled back: retry it first' : undefined
  const onLastStep = view.step !== null && view.step.index >= view.step.of - 1
  const notPaused = view.status === 'ramping' || view.status === 'complete'

  return {
    pause: noPlan ?? rolledBack ?? (view.status === 'paused' ? 'the route is paused already' : undefined),
    resume: noPlan ?? rolledBack ?? (notPaused ? 'the route is not paused' : undefined),
    promote: noPlan ?? rolledBack ?? (onLastStep ? 'the route is on the plan\'s last step' : undefined),
    rollback: view.status === 'rolled-back' && view.percentage === 0 ? 'the route is rolled back to 0% already' : undefined,
    retry: noPlan ?? (view.status === 'rolled-back' ? undefined : 'only a rolled-back route can be retried'),
    set: undefined
  }
}

export function createRouteHeader (scope, routeName, onChange = () => {}) {
  const element = h('section', { class: 'route-header', 'aria-label': `route ${routeName}` })
  const path = `/routes/${encodeURIComponent(routeName)}`
  // Made once, so what a person is typing survives the refreshes.
  const inputs = {
    reason: h('input', {
      type: 'text', class: 'reason', maxLength: 500, 'aria-label': 'reason', placeholder: 'reason (optional, kept in the history)'
    }),
    percentage: h('input', { type: 'number', min: 0, max: 100, step: 0.01, class: 'set-percentage', 'aria-label': 'percentage' }),
    shown: undefined
  }

  const render = (view) => {
    showPercentage(inputs, view.percentage)
    const title = h('div', { class: 'route-title' },
      h('h1', { text: view.name }), statusBadge(view.status), h('span', { class: 'paths', text: view.paths.join('  ') }))
    fill(element, title, describeRollout(view), renderActions(scope, view, path, inputs, apply))
  }
  const apply = (view) => { render(view); onChange(view) }
  const refresh = async () => {
    try {
      render(await scope.call('GET', path))
      scope.recovered()
    } catch (error) {
      scope.report(error)
    }
  }
  scope.every(refreshMs, refresh)

  return { element, refresh }
}

/** Follows the route's percentage, unless the person is editing the field. */
function showPercentage (inputs, percentage) {
  const editing = document.activeElement === inputs.percentage
  if (!editing && inputs.shown !== percentage) inputs.percentage.value = String(percentage)
  inputs.shown = percentage
}

function describeRollout (view) {
  const { rate, diverging, compared, from } = view.divergence
  const window = view.step === null ? 'last 10 min' : `this step, since ${formatAgo(from)}`
  const fact = (term, ...value) => [h('dt', { text: term }), h('dd', {}, ...value)]
  const percentage = h('strong', { class: 'percentage', text: formatPercentage(view.percentage) })
  const lastChange = view.updatedAt === null ? 'none yet' : `${formatAgo(view.updatedAt)} by ${view.actor}: ${view.reason}`

  return h('dl', { class: 'facts' },
    fact('percentage', percentage, ' of live requests on the candidate'),
    fact('step', formatStep(view)),
    fact('waiting for', h('span', { class: 'waiting-for', text: view.waitingFor ?? '–' })),
    fact('divergence', `${formatRate(rate)} (${formatCount(diverging)} of ${formatCount(compared)} compared; ${window})`),
    fact('last change', lastChange),
    view.plan === null ? null : fact('plan', describePlan(view)))
}

function describePlan (view) {
  const { steps, intervalMs, thresholds: limit } = view.plan
  const current = view.step?.index
  const stepList = h('span', { class: 'plan-steps' }, steps.map((step, index) =>
    h('span', { class: index === current ? 'plan-step current' : 'plan-step', text: formatPercentage(step) })))
  const limits = [
    `divergence ≤ ${limit.divergencePercent}%`,
    `candidate errors ≤ baseline + ${limit.errorExcessPoints} points`,
    `fallbacks ≤ ${limit.fallbackPercent}%`,
    `p99 ≤ ${limit.p99Ratio}× baseline or + ${limit.p99ExcessMs} ms; an analysis every ${intervalMs / 1_000} s`
  ]

  return [stepList, h('div', { class: 'hint', text: limits.join(', ') })]
}

function renderActions (scope, view, path, inputs, apply) {
  const { reason, percentage } = inputs
  const operator = scope.session.role === 'operator'
  const available = actionAvailability(view)
  const disabledWhy = (name) => operator ? available[name] : 'needs an operator token'
  const run = async (action, done, body = {}) => {
    const text = reason.value.trim()
    try {
      const changed = await scope.call('POST', `${path}/${action}`, text === '' ? body : { ...body, reason: text })
      reason.value = ''
      showAlert(`${view.name} ${done}: now ${formatPercentage(changed.percentage)}, ${statusLabel(changed.status)}.`, 'info')
      apply(changed)
    } catch (error) {
      scope.report(error, 'refused')
    }
  }
  const button = (action, label, props, task) => actionButton(label, {
    'data-action': action, disabled: disabledWhy(action) !== undefined, title: disabledWhy(action) ?? props.title, class: props.class
  }, task)

  const buttons = actions.map(({ action, label, done }) => button(action, label,
    { title: `${label} ${view.name}`, class: action === 'rollback' ? 'danger' : undefined }, async () => await run(action, done)))
  const set = button('set', 'Set %', { title: 'set the percentage by hand (pauses a plan)' },
    async () => await run('set', 'set by hand', { percentage: Number(percentage.value) }))
  percentage.disabled = !operator
  reason.disabled = !operator
  const readOnly = 'This token may only read: the actions need an operator token.'
  const note = operator ? null : h('p', { class: 'hint read-only-note', text: readOnly })

  return h('div', { class: 'actions', role: 'group', 'aria-label': 'operator actions' },
    buttons, h('span', { class: 'set-group' }, percentage, set), reason, note)
}
