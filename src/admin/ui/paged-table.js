// A table that draws one page of its rows at a time, with a filter: a
// report with tens of thousands of field paths stays as quick as one with
// ten, since only a page of rows is ever in the document.

import { fill, formatCount, h } from './dom.js'

/**
 * columns: [{ label, cell: (row) => node or text, class? }].
 * filterText: (row) => the text the filter looks in; none for no filter.
 * expand: (row) => node shown in a row under it, for rows whose `key` is
 * in the open set (toggled with `toggle(key)`).
 */
export function createPagedTable (options) {
  const { label, columns, pageSize = 25, filterText, empty = 'Nothing to show.', rowKey, expand, rowProps } = options
  const state = { rows: [], page: 0, filter: '', open: new Set() }
  const body = h('tbody')
  const status = h('span', { class: 'pager-status', 'aria-live': 'polite' })
  const previous = h('button', { type: 'button', text: '‹ previous', onclick: () => turn(-1) })
  const next = h('button', { type: 'button', text: 'next ›', onclick: () => turn(1) })
  const applyFilter = debounce(() => {
    state.filter = filter.value.trim().toLowerCase()
    state.page = 0
    draw()
  }, 120)
  const filter = filterText === undefined
    ? null
    : h('input', { type: 'search', class: 'filter', placeholder: 'filter', 'aria-label': `filter ${label}`, oninput: applyFilter })
  const table = h('table', { class: 'paged', 'aria-label': label },
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { class: column.class, scope: 'col', text: column.label })))),
    body)
  const pager = h('div', { class: 'pager' }, previous, status, next)
  const element = h('div', { class: 'paged-table' }, filter, h('div', { class: 'table-scroll' }, table), pager)

  function visibleRows () {
    if (state.filter === '' || filterText === undefined) return state.rows

    return state.rows.filter((row) => filterText(row).toLowerCase().includes(state.filter))
  }

  function turn (by) {
    state.page += by
    draw()
  }

  function draw () {
    const rows = visibleRows()
    const pages = Math.max(1, Math.ceil(rows.length / pageSize))
    state.page = Math.min(Math.max(0, state.page), pages - 1)
    const first = state.page * pageSize
    const shown = rows.slice(first, first + pageSize)
    const nothing = state.rows.length === 0 ? empty : 'No row matches the filter.'
    const placeholder = h('tr', {}, h('td', { class: 'empty', colSpan: columns.length, text: nothing }))
    fill(body, shown.length === 0 ? placeholder : shown.map(drawRow))
    previous.disabled = state.page === 0
    next.disabled = state.page >= pages - 1
    const range = `${formatCount(first + 1)}–${formatCount(first + shown.length)}`
    status.textContent = rows.length === 0 ? '' : `${range} of ${formatCount(rows.length)}`
    // A short list needs neither: the filter stays while it is in use.
    pager.hidden = pages === 1
    if (filter !== null) filter.hidden = state.rows.length <= pageSize && state.filter === ''
  }

  function drawRow (row) {
    const key = rowKey?.(row)
    const tr = h('tr', rowProps?.(row) ?? {}, columns.map((column) => h('td', { class: column.class }, column.cell(row))))
    if (expand === undefined || !state.open.has(key)) return tr

    return [tr, h('tr', { class: 'expanded' }, h('td', { colSpan: columns.length }, expand(row)))]
  }

  return {
    element,
    setRows (rows) {
      state.rows = rows
      draw()
    },
    /** Opens or closes a row's expansion; true when it is now open. */
    toggle (key) {
      if (state.open.has(key)) state.open.delete(key)
      else state.open.add(key)
      draw()
      return state.open.has(key)
    },
    isOpen: (key) => state.open.has(key),
    redraw: draw
  }
}

function debounce (task, ms) {
  let timer
  return () => {
    clearTimeout(timer)
    timer = setTimeout(task, ms)
  }
}
