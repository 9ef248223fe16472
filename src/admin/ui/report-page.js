// A route's diff report: where the candidate diverges (field paths with
// counts and rates, status mismatches, answers that could not be
// compared), example pairs, and the noise with its suggested ignore rules.

import { showAlert } from './alert.js'
import { actionButton, fill, formatCount, formatMs, formatRate, formatTime, h } from './dom.js'
import { createPagedTable } from './paged-table.js'
import { showExamples } from './pair-view.js'
import { createRouteHeader } from './route-header.js'

const ranges = ['10m', '1h', '6h', '1d']
/** Where examples of a status mismatch without other differences are kept. */
const statusPath = '@status'

const hints = {
  paths: 'Each pair counts once per field path and kind; "of compared" is the share of compared ' +
    'pairs that diverge there.',
  examples: 'The latest pairs kept for the chosen path, with the request that produced them. ' +
    'Click a difference to find it in both bodies.',
  noise: 'Noise: fields where two baseline answers to the same request differed. The suggested ' +
    'rules would ignore them; accepted rules apply to the next pairs.',
  explained: 'Differences that did not count as divergence.'
}

export async function renderReport (scope, routeName) {
  const since = ranges.includes(scope.query.get('since')) ? scope.query.get('since') : '10m'
  const header = createRouteHeader(scope, routeName)
  const asOf = h('span', { class: 'hint as-of' })
  const view = createReportView(scope, routeName, () => void load())
  const refresh = h('button', { type: 'button', text: 'Refresh', onclick: () => void load() })
  const title = h('div', { class: 'page-title' },
    h('h2', { text: 'Diff report' }), rangePicker(routeName, since), refresh, asOf)
  fill(scope.main, header.element, title, view.element)

  const path = `/routes/${encodeURIComponent(routeName)}/report?since=${since}`
  const load = async () => {
    try {
      view.show(await scope.call('GET', path))
      asOf.textContent = `figures of the last ${since}, as of ${formatTime(Date.now())}`
      scope.recovered()
    } catch (error) {
      scope.report(error)
    }
  }
  await Promise.all([header.refresh(), load()])
}

function rangePicker (routeName, since) {
  const go = () => { location.hash = `#/routes/${encodeURIComponent(routeName)}?since=${select.value}` }
  const options = ranges.map((range) => h('option', { value: range, text: `last ${range}`, selected: range === since }))
  const select = h('select', { 'aria-label': 'report range', onchange: go }, options)

  return h('label', { class: 'range' }, 'pairs of the ', select)
}

function createReportView (scope, routeName, reload) {
  const state = { report: undefined, selected: undefined }
  const examples = h('div', { class: 'examples', id: 'examples' })
  const pickExamples = async (kind, path) => {
    state.selected = `${kind}\n${path}`
    tables.paths.redraw()
    try {
      await showExamples(scope, examples, routeName, kind, path)
    } catch (error) {
      scope.report(error)
    }
  }
  const tables = createTables(scope, routeName, state, pickExamples, reload)
  const parts = {
    summary: h('div', { class: 'figures' }),
    backedOff: h('div'),
    statusExamples: h('div'),
    noiseSamples: h('p', { class: 'hint' }),
    accepted: h('div')
  }

  return {
    element: layout(parts, tables, examples),
    show (report) {
      const first = state.report === undefined
      state.report = report
      showReport(report, parts, tables, pickExamples)
      if (first) showFirstExample(report, pickExamples, examples)
    }
  }
}

function layout (parts, tables, examples) {
  return h('div', {},
    parts.summary, parts.backedOff,
    section('Diverging field paths', hints.paths, tables.paths.element),
    section('Example pairs', hints.examples, examples),
    section('Status mismatches', null, tables.statuses.element, parts.statusExamples),
    section('Not comparable', null, tables.reasons.element),
    section('Noise and ignore rules', hints.noise,
      parts.noiseSamples,
      h('h3', { text: 'Suggested ignore rules' }), tables.suggestions.element, parts.accepted,
      h('h3', { text: 'Noise paths' }), tables.noise.element),
    section('Explained differences', hints.explained,
      h('h3', { text: 'By a rule' }), tables.ignored.element,
      h('h3', { text: 'As noise' }), tables.explained.element))
}

function showReport (report, parts, tables, pickExamples) {
  fill(parts.summary, renderSummary(report))
  tables.paths.setRows(report.paths)
  tables.statuses.setRows(report.statuses)
  tables.reasons.setRows(report.reasons)
  tables.suggestions.setRows(report.suggestions)
  tables.noise.setRows(report.noise.paths)
  tables.ignored.setRows(report.ignoredPaths)
  tables.explained.setRows(report.noisePaths)
  parts.noiseSamples.textContent = `${formatCount(report.noise.samples)} pairs carried a second ` +
    `baseline answer (all time); ${formatCount(report.noiseSamples)} in this range.`
  fill(parts.accepted, renderAccepted(report.acceptedRules))
  fill(parts.backedOff, renderBackedOff(report.backedOff))
  const statusOnly = examplesButton(pickExamples, 'changed', statusPath)
  fill(parts.statusExamples, report.statuses.length === 0
    ? null
    : h('p', {}, statusOnly, ' pairs whose only difference is the status'))
}

function examplesButton (pickExamples, kind, path) {
  const onclick = () => void pickExamples(kind, path)

  return h('button', { type: 'button', class: 'small', text: 'examples', 'data-path': path, onclick })
}

function createTables (scope, routeName, state, pickExamples, reload) {
  const shareOfCompared = (row) => formatRate(state.report.compared === 0 ? null : row.count / state.report.compared)
  const pairs = { label: 'pairs', class: 'number', cell: (row) => formatCount(row.count) }
  const share = { label: 'of compared', class: 'number', cell: shareOfCompared }

  return {
    paths: createPagedTable({
      label: 'diverging field paths',
      pageSize: 20,
      filterText: (row) => `${row.path} ${row.kind}`,
      empty: 'No divergence in this range.',
      rowProps: (row) => ({
        class: state.selected === `${row.kind}\n${row.path}` ? 'selected' : undefined,
        'data-path': row.path
      }),
      columns: [
        fieldPathColumn,
        { label: 'kind', cell: (row) => h('span', { class: `kind kind-${row.kind}`, text: row.kind.replace(/-/g, ' ') }) },
        pairs,
        share,
        { label: '', cell: (row) => examplesButton(pickExamples, row.kind, row.path) }
      ]
    }),
    statuses: createPagedTable({
      label: 'status mismatches',
      pageSize: 10,
      empty: 'No status mismatch in this range.',
      columns: [
        { label: 'baseline', cell: (row) => h('code', { text: row.baseline }) },
        { label: 'candidate', cell: (row) => h('code', { text: row.candidate }) },
        pairs,
        share
      ]
    }),
    reasons: createPagedTable({
      label: 'not comparable',
      pageSize: 10,
      empty: 'Every pair in this range could be compared.',
      columns: [{ label: 'reason', cell: (row) => row.reason }, pairs]
    }),
    suggestions: createSuggestionTable(scope, routeName, reload),
    noise: pathCountTable('noise paths', 'Nothing seen yet.', [
      { label: 'value differed', class: 'number', cell: (row) => formatCount(row.value) },
      { label: 'presence differed', class: 'number', cell: (row) => formatCount(row.presence) }
    ]),
    ignored: pathCountTable('explained by rules', 'No difference was explained by a rule.', [pairs]),
    explained: pathCountTable('explained as noise', 'No difference was explained as noise.', [pairs])
  }
}

const fieldPathColumn = {
  label: 'field path',
  cell: (row) => h('code', { class: 'field-path', text: row.path === '' ? '(whole body)' : row.path })
}

function createSuggestionTable (scope, routeName, reload) {
  return createPagedTable({
    label: 'suggested ignore rules',
    pageSize: 10,
    filterText: (row) => `${row.pattern} ${row.covers.join(' ')}`,
    empty: 'No suggestion: the baseline has not been seen to disagree with itself.',
    rowProps: (row) => ({ 'data-pattern': row.pattern }),
    columns: [
      { label: 'rule', cell: (row) => h('code', { text: row.rule }) },
      { label: 'pattern', cell: (row) => h('code', { text: row.pattern }) },
      { label: 'covers', class: 'wide', cell: (row) => row.covers.join(', ') },
      { label: 'decision', cell: (row) => row.decision ?? 'none yet' },
      { label: '', cell: (row) => ruleButtons(scope, routeName, row, reload) }
    ]
  })
}

function pathCountTable (label, empty, columns) {
  return createPagedTable({ label, pageSize: 15, filterText: (row) => row.path, empty, columns: [fieldPathColumn, ...columns] })
}

function showFirstExample (report, pickExamples, examples) {
  const top = report.paths[0]
  if (top !== undefined) { void pickExamples(top.kind, top.path); return }
  if (report.statuses.length > 0) { void pickExamples('changed', statusPath); return }

  fill(examples, h('p', { class: 'hint', text: 'No diverging pair in this range: nothing to show.' }))
}

function section (title, hint, ...content) {
  const intro = hint === null ? null : h('p', { class: 'hint', text: hint })

  return h('section', { class: 'report-section', 'aria-label': title.toLowerCase() }, h('h2', { text: title }), intro, content)
}

function renderSummary (report) {
  const { baseline, candidate } = report.latency
  const figure = (label, value, bad = false) => h('div', { class: bad ? 'figure bad' : 'figure' },
    h('span', { class: 'figure-value', text: value }), h('span', { class: 'figure-label', text: label }))
  const latency = (side) => `${formatMs(side.p50Ms)} / ${formatMs(side.p99Ms)}`

  return [
    figure('divergence rate', formatRate(report.divergenceRate), report.divergenceRate > 0),
    figure('pairs', formatCount(report.pairs)),
    figure('compared', formatCount(report.compared)),
    figure('identical', formatCount(report.identical)),
    figure('diverging', formatCount(report.diverging), report.diverging > 0),
    figure('status mismatch', formatCount(report.statusMismatch), report.statusMismatch > 0),
    figure('noise only', formatCount(report.noiseOnly)),
    figure('not comparable', formatCount(report.notComparable)),
    figure('p50 / p99 baseline', latency(baseline)),
    figure('p50 / p99 candidate', latency(candidate))
  ]
}

function renderAccepted (rules) {
  if (rules.length === 0) return null

  const items = rules.map((rule) =>
    h('li', {}, h('code', { text: `${rule.rule}: ${rule.pattern}` }), ` by ${rule.actor}, ${formatTime(rule.at)}`))
  return [h('h3', { text: 'Accepted rules' }), h('ul', { class: 'accepted' }, items)]
}

function renderBackedOff (guards) {
  if (guards.length === 0) return null

  const described = guards.map((guard) => `${guard.gateway} mirrors at ${Math.round(guard.factor * 100)}% ` +
    `of the rate since ${formatTime(guard.since)} (${guard.reason})`)
  return h('p', { class: 'notice' }, 'Fewer pairs than configured: ', described.join('; '))
}

/** Accept or reject a suggested rule, or forget the decision; operators only. */
function ruleButtons (scope, routeName, row, reload) {
  const operator = scope.session.role === 'operator'
  const props = { class: 'small', disabled: !operator, title: operator ? undefined : 'needs an operator token' }
  const path = `/routes/${encodeURIComponent(routeName)}/ignore-rules`
  const change = (label, extra, send, done) => actionButton(label, { ...props, ...extra }, async () => {
    try {
      await send()
      showAlert(`Ignore rule ${done}.`, 'info')
      reload()
    } catch (error) {
      scope.report(error, 'refused')
    }
  })
  const decide = (decision) => change(decision === 'accepted' ? 'accept' : 'reject', { 'data-decision': decision },
    async () => await scope.call('POST', path, { rule: row.rule, pattern: row.pattern, decision }),
    `${row.pattern} ${decision}`)
  if (row.decision === undefined) return [decide('accepted'), ' ', decide('rejected')]

  const query = new URLSearchParams({ rule: row.rule, pattern: row.pattern })
  return change('forget decision', {}, async () => await scope.call('DELETE', `${path}?${query}`),
    `decision on ${row.pattern} forgotten`)
}
