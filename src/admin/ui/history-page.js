// A route's history: every change, newest first, with who made it and
// why; a controller decision opens onto the analysis behind it (each
// check's estimate, 95% interval, threshold and samples), an alert onto
// its labels.

import {
  actionLabel, fill, formatAgo, formatCount, formatDuration, formatMs, formatPercentage, formatRate,
  formatTime, h
} from './dom.js'
import { createPagedTable } from './paged-table.js'
import { createRouteHeader } from './route-header.js'

const limits = [50, 200, 1000]

export async function renderHistory (scope, routeName) {
  const asked = Number(scope.query.get('limit'))
  const limit = limits.includes(asked) ? asked : 50
  const table = createHistoryTable()
  const onChange = () => void load()
  const header = createRouteHeader(scope, routeName, onChange)
  const asOf = h('span', { class: 'hint as-of' })
  const refresh = h('button', { type: 'button', text: 'Refresh', onclick: onChange })
  const title = h('div', { class: 'page-title' }, h('h2', { text: 'History' }), limitPicker(routeName, limit), refresh, asOf)
  fill(scope.main, header.element, title, table.element)

  const load = async () => {
    try {
      table.setRows(await scope.call('GET', `/routes/${encodeURIComponent(routeName)}/history?limit=${limit}`))
      asOf.textContent = `as of ${formatTime(Date.now())}`
      scope.recovered()
    } catch (error) {
      scope.report(error)
    }
  }
  await Promise.all([header.refresh(), load()])
}

function createHistoryTable () {
  const table = createPagedTable({
    label: 'history',
    pageSize: 25,
    filterText: (entry) => `${entry.action} ${entry.actor} ${entry.reason}`,
    empty: 'No change recorded yet.',
    rowKey: entryKey,
    rowProps: (entry) => ({ class: 'history-row', 'data-action': entry.action }),
    expand: (entry) => renderFigures(entry.figures),
    columns: [
      { label: 'when', cell: (entry) => h('span', { title: entry.at, text: `${formatTime(entry.at)} (${formatAgo(entry.at)})` }) },
      { label: 'action', cell: (entry) => h('span', { class: `action action-${entry.action}`, text: actionLabel(entry.action) }) },
      { label: 'percentage', class: 'number', cell: (entry) => `${formatPercentage(entry.from)} → ${formatPercentage(entry.to)}` },
      { label: 'by', cell: (entry) => entry.actor },
      { label: 'reason', class: 'wide', cell: (entry) => entry.reason },
      { label: 'figures', cell: (entry) => figuresToggle(entry, table) }
    ]
  })

  return table
}

function entryKey (entry) {
  return `${entry.at} ${entry.action} ${entry.actor}`
}

function limitPicker (routeName, limit) {
  const go = () => { location.hash = `#/routes/${encodeURIComponent(routeName)}/history?limit=${select.value}` }
  const options = limits.map((value) => h('option', { value, text: `latest ${value}`, selected: value === limit }))
  const select = h('select', { 'aria-label': 'entries', onchange: go }, options)

  return h('label', { class: 'range' }, 'show the ', select)
}

function figuresToggle (entry, table) {
  if (entry.figures === undefined || entry.figures === null) return h('span', { class: 'hint', text: '–' })

  const open = table.isOpen(entryKey(entry))
  return h('button', {
    type: 'button',
    class: 'small figures-toggle',
    'aria-expanded': String(open),
    text: open ? 'hide figures' : 'show figures',
    onclick: () => table.toggle(entryKey(entry))
  })
}

/** The figures behind a change: an analysis as tables, anything else (an alert) as JSON. */
export function renderFigures (figures) {
  if (figures?.checks === undefined) {
    const text = JSON.stringify(figures, null, 2)
    return h('div', { class: 'figures-detail' }, h('h4', { text: 'Figures' }), h('pre', { class: 'body', text }))
  }

  const onStep = `Analysis at ${formatTime(figures.analyzedAt)} on step ${figures.stepIndex + 1} ` +
    `(${formatPercentage(figures.percentage)}), ${formatDuration(figures.timeOnStepMs)} on the step ` +
    `(at least ${formatDuration(figures.minStepMs)} before a promotion).`
  const heads = ['check', 'outcome', 'estimate', '95% interval', 'threshold', 'samples'].map((label) => h('th', { text: label }))
  const checks = [...figures.checks, figures.critical].map(renderCheck)

  return h('div', { class: 'figures-detail' },
    h('p', { text: onStep }),
    h('table', { class: 'checks', 'aria-label': 'checks' }, h('thead', {}, h('tr', {}, heads)), h('tbody', {}, checks)),
    renderWindow(figures.window))
}

function renderWindow (window) {
  const rate = (part, whole) => formatRate(whole === 0 ? null : part / whole)
  const row = (label, value) => h('tr', {}, h('th', { scope: 'row', text: label }), h('td', { text: value }))
  const candidate = `${formatCount(window.candidateRequests)}, errors ${formatCount(window.candidateErrors)} ` +
    `(${rate(window.candidateErrors, window.candidateRequests)}), fallbacks ${formatCount(window.candidateFallbacks)}`
  const baseline = `${formatCount(window.baselineRequests)}, errors ${formatCount(window.baselineErrors)} ` +
    `(${rate(window.baselineErrors, window.baselineRequests)})`

  return h('table', { class: 'window', 'aria-label': 'step figures' }, h('tbody', {},
    row('compared pairs', `${formatCount(window.comparedPairs)}, diverging ${formatCount(window.divergingPairs)}`),
    row('candidate requests', candidate),
    row('baseline requests', baseline),
    row('p99 latency', `candidate ${formatMs(window.candidateP99Ms)}, baseline ${formatMs(window.baselineP99Ms)}`)))
}

const checkNames = {
  divergence: 'divergence',
  'error-rate': 'error rate (candidate − baseline)',
  'fallback-rate': 'fallback rate',
  'critical-error-rate': 'critical error rate (rolls back at once)',
  latency: 'p99 latency'
}

function renderCheck (check) {
  const name = h('td', { text: checkNames[check.name] ?? check.name })
  const label = check.outcome.replace(/-/g, ' ')
  const outcome = h('td', {}, h('span', { class: `outcome outcome-${check.outcome}`, 'data-outcome': check.outcome, text: label }))
  const samples = h('td', { class: 'number', text: `${formatCount(check.samples)} of ${formatCount(check.minSamples)} needed` })
  const row = (...cells) => h('tr', { 'data-check': check.name }, name, outcome, cells, samples)
  if (check.name === 'latency') {
    return row(
      h('td', { text: `candidate ${formatMs(check.candidateP99Ms)}` }),
      h('td', { text: `baseline ${formatMs(check.baselineP99Ms)}` }),
      h('td', { text: `≤ ${formatMs(check.allowedP99Ms)}` }))
  }

  // The error-rate check judges the candidate's rate minus the baseline's.
  const signed = check.name === 'error-rate'
  const rate = (value) => signed && value > 0 ? `+${formatRate(value)}` : formatRate(value)
  return row(
    h('td', { class: 'number', text: rate(check.estimate) }),
    h('td', { class: 'number', text: `${rate(check.lower)} – ${rate(check.upper)}` }),
    h('td', { class: 'number', text: `≤ ${signed ? '+' : ''}${formatRate(check.threshold)}` }))
}
