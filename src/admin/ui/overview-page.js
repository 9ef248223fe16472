// Overview: every route's rollout in one table, then each route's
// figures over time. Charts are drawn only for cards on screen, a page of
// cards at a time, so a thousand routes cost what a dozen do.

import { createRouteCharts, describeChanges } from './charts.js'
import {
  fill, formatAgo, formatCount, formatPercentage, formatRate, formatStep, h, statusBadge, statusLabel
} from './dom.js'
import { createPagedTable } from './paged-table.js'

const refreshMs = 5_000
const chartRefreshMs = 15_000
const ranges = ['5m', '15m', '1h', '6h', '1d']
const cardsPerPage = 12

export async function renderOverview (scope) {
  const since = ranges.includes(scope.query.get('since')) ? scope.query.get('since') : '15m'
  const summary = h('p', { class: 'summary' })
  const table = createPagedTable({
    label: 'routes',
    columns: routeColumns,
    pageSize: 50,
    filterText: (view) => `${view.name} ${view.status} ${view.waitingFor ?? ''}`,
    empty: 'No route is configured.',
    rowProps: (view) => ({ 'data-route': view.name })
  })
  const cards = createChartCards(scope, since)
  fill(scope.main,
    h('div', { class: 'page-title' }, h('h1', { text: 'Routes' }), summary),
    table.element,
    h('div', { class: 'page-title' }, h('h2', { text: 'Over time' }), rangePicker(since)),
    cards.element)

  const refresh = async () => {
    try {
      const views = await scope.call('GET', '/routes')
      summary.textContent = summarize(views)
      table.setRows(views)
      cards.setRoutes(views)
      scope.recovered()
    } catch (error) {
      scope.report(error)
    }
  }
  await refresh()
  scope.every(refreshMs, refresh)
}

const routeLink = (name, text = name, page = '') =>
  h('a', { href: `#/routes/${encodeURIComponent(name)}${page}`, class: text === name ? 'route-link' : undefined, text })

const routeColumns = [
  { label: 'route', cell: (view) => routeLink(view.name) },
  { label: 'percentage', class: 'number', cell: (view) => percentageBar(view.percentage) },
  { label: 'status', cell: (view) => statusBadge(view.status) },
  { label: 'step', cell: (view) => formatStep(view) },
  { label: 'waiting for', class: 'wide', cell: (view) => view.waitingFor ?? '–' },
  { label: 'divergence', class: 'number', cell: (view) => describeDivergence(view) },
  { label: 'last change', cell: (view) => describeLastChange(view) },
  { label: '', cell: (view) => [routeLink(view.name, 'report'), ' · ', routeLink(view.name, 'history', '/history')] }
]

function describeDivergence (view) {
  const { rate, diverging, compared } = view.divergence
  const counts = `${formatCount(diverging)}/${formatCount(compared)}`
  const title = `${counts} compared pairs diverge (${view.step === null ? 'last 10 min' : 'this step'})`

  return h('span', { title }, formatRate(rate), h('small', { text: ` ${counts}` }))
}

function describeLastChange (view) {
  if (view.updatedAt === null) return '–'

  return h('span', { title: view.reason, text: `${formatAgo(view.updatedAt)} · ${view.actor}` })
}

function percentageBar (percentage) {
  const bar = h('span', { class: 'bar' }, h('span', { class: 'bar-fill' }))
  bar.firstChild.style.width = `${Math.min(100, Math.max(0, percentage))}%`

  return h('span', { class: 'percentage-cell' }, bar, formatPercentage(percentage))
}

function summarize (views) {
  const counts = new Map()
  for (const view of views) counts.set(view.status, (counts.get(view.status) ?? 0) + 1)
  const parts = [...counts].map(([status, count]) => `${count} ${statusLabel(status)}`)

  return `${formatCount(views.length)} routes · ${parts.join(' · ')}`
}

function rangePicker (since) {
  const select = h('select', { 'aria-label': 'time range', onchange: () => { location.hash = `#/?since=${select.value}` } },
    ranges.map((range) => h('option', { value: range, text: `last ${range}`, selected: range === since })))

  return h('label', { class: 'range' }, 'charts over the ', select)
}

/** A card per route with its charts; a card loads its figures once it is on screen. */
function createChartCards (scope, since) {
  const grid = h('div', { class: 'cards' })
  const pager = h('div', { class: 'pager' })
  const element = h('section', { 'aria-label': 'routes over time' }, grid, pager)
  const cards = new Map()
  let page = 0
  let names = []

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const card = cards.get(entry.target.dataset.route)
      if (card === undefined) continue
      card.visible = entry.isIntersecting
      if (card.visible && card.loadedAt === undefined) void loadCard(scope, card, since)
    }
  }, { rootMargin: '200px' })
  scope.onDispose(() => {
    observer.disconnect()
    for (const card of cards.values()) card.charts.destroy()
  })
  scope.every(chartRefreshMs, async () => {
    for (const card of cards.values()) if (card.visible) await loadCard(scope, card, since)
  })

  const drawPage = () => {
    const pages = Math.max(1, Math.ceil(names.length / cardsPerPage))
    page = Math.min(page, pages - 1)
    const shown = names.slice(page * cardsPerPage, (page + 1) * cardsPerPage)
    for (const [name, card] of cards) {
      if (shown.includes(name)) continue
      observer.unobserve(card.element)
      card.charts.destroy()
      cards.delete(name)
    }
    fill(grid, shown.map((name) => {
      const card = cards.get(name) ?? newCard(name)
      cards.set(name, card)
      observer.observe(card.element)
      return card.element
    }))
    const turn = (by) => () => { page += by; drawPage() }
    const first = page * cardsPerPage
    fill(pager, pages === 1
      ? null
      : [
          h('button', { type: 'button', text: '‹ previous', disabled: page === 0, onclick: turn(-1) }),
          h('span', { class: 'pager-status', text: `routes ${first + 1}–${first + shown.length} of ${names.length}` }),
          h('button', { type: 'button', text: 'next ›', disabled: page >= pages - 1, onclick: turn(1) })
        ])
  }

  return {
    element,
    setRoutes (views) {
      const next = views.map((view) => view.name)
      const changed = next.join('\n') !== names.join('\n')
      names = next
      if (changed) drawPage()
      for (const view of views) cards.get(view.name)?.describe(view)
    }
  }
}

function newCard (name) {
  const title = h('div', { class: 'card-title' })
  const plots = h('div', { class: 'charts' })
  const changes = h('div', { class: 'card-changes' })
  const element = h('article', { class: 'card', 'data-route': name }, title, plots, changes)
  const charts = createRouteCharts(plots, name)
  const describe = (view) => fill(title,
    h('a', { href: `#/routes/${encodeURIComponent(name)}`, class: 'route-link', text: name }),
    statusBadge(view.status),
    h('span', { class: 'card-percentage', text: formatPercentage(view.percentage) }),
    h('span', { class: 'hint', text: view.waitingFor ?? '' }))
  fill(title, h('span', { class: 'route-link', text: name }))

  return { name, element, charts, changes, describe, visible: false, loadedAt: undefined }
}

async function loadCard (scope, card, since) {
  try {
    const timeseries = await scope.call('GET', `/routes/${encodeURIComponent(card.name)}/timeseries?since=${since}`)
    card.charts.update(timeseries)
    fill(card.changes, describeChanges(timeseries.changes))
    card.loadedAt = Date.now()
  } catch (error) {
    scope.report(error)
  }
}
