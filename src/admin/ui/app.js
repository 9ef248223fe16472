// The page shell: the token, the header, errors, and which page the
// address (#/…) shows. Each page gets a scope that ends its timers and
// requests when the person moves on.

import { clearError, hideAlert, showAlert } from './alert.js'
import { ApiError, callApi, describeError, forgetToken, keepToken, readToken } from './api.js'
import { fill, h } from './dom.js'
import { renderHistory } from './history-page.js'
import { renderOverview } from './overview-page.js'
import { renderReport } from './report-page.js'

/** What the current token may do, from GET /api/token. */
const session = { name: undefined, role: undefined }
let scope

/** What a page gets: where to draw, its query, the session, and ways to report and clean up. */
class PageScope {
  #controller = new AbortController()
  #timers = []
  #cleanups = []

  constructor (main, query) {
    this.main = main
    this.query = query
    this.session = session
  }

  get signal () {
    return this.#controller.signal
  }

  get active () {
    return !this.#controller.signal.aborted
  }

  /** Runs `task` every `ms` while the page is shown and the tab is visible. */
  every (ms, task) {
    this.#timers.push(setInterval(() => {
      if (this.active && document.visibilityState === 'visible') void task()
    }, ms))
  }

  /** Calls the API for this page; answers that arrive after the person moved on are dropped. */
  async call (method, path, body) {
    return await callApi(method, path, { body, signal: this.signal })
  }

  /**
   * Shows an error; a refused token sends the person back to the token
   * field. A failed read (`error`) clears itself once reads work again; a
   * refused change (`refused`) stays until dismissed, so it is not missed.
   */
  report (error, kind = 'error') {
    if (error?.name === 'AbortError' || !this.active) return
    if (error instanceof ApiError && error.status === 401) {
      forgetToken()
      void showTokenForm(describeError(error))
      return
    }
    showAlert(describeError(error), kind)
  }

  /** Clears an error shown earlier, once a call succeeds again. */
  recovered () {
    clearError()
  }

  /** Runs `task` when the page goes away (charts to free, observers to stop). */
  onDispose (task) {
    this.#cleanups.push(task)
  }

  dispose () {
    this.#controller.abort()
    for (const timer of this.#timers) clearInterval(timer)
    for (const task of this.#cleanups) task()
  }
}

/** Reads #/path?query into the page to show. */
function parseAddress () {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?')
  const query = new URLSearchParams(search)
  const parts = (path ?? '').split('/').filter((part) => part !== '').map(decodePart)
  if (parts[0] === 'routes' && parts[1] !== undefined) {
    return { page: parts[2] === 'history' ? 'history' : 'report', route: parts[1], query }
  }

  return { page: 'overview', query }
}

/** A hand-typed address may hold a stray %; it then names a route as written. */
function decodePart (part) {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

function renderNav (address) {
  const nav = document.getElementById('nav')
  const link = (href, text, current) => h('a', { href, text, 'aria-current': current ? 'page' : undefined })
  const routeLinks = address.route === undefined
    ? []
    : [
        h('span', { class: 'nav-route', text: address.route }),
        link(`#/routes/${encodeURIComponent(address.route)}`, 'Report', address.page === 'report'),
        link(`#/routes/${encodeURIComponent(address.route)}/history`, 'History', address.page === 'history')
      ]
  fill(nav, link('#/', 'Overview', address.page === 'overview'), routeLinks)
}

function renderWho () {
  const who = document.getElementById('who')
  if (session.name === undefined) { who.replaceChildren(); return }

  const role = session.role === 'operator' ? 'operator' : 'read only'
  fill(who,
    h('span', { class: 'who-token', text: `token ${session.name}` }),
    h('span', { class: `badge role-${session.role}`, 'data-role': session.role, text: role }),
    h('button', { type: 'button', class: 'link', text: 'forget token', onclick: forgetAndAsk }))
}

function forgetAndAsk () {
  forgetToken()
  void showTokenForm()
}

async function showPage () {
  scope?.dispose()
  const main = document.getElementById('main')
  if (readToken() === null || session.name === undefined) { await showTokenForm(); return }

  const address = parseAddress()
  scope = new PageScope(main, address.query)
  renderNav(address)
  main.replaceChildren()
  if (address.page === 'overview') await renderOverview(scope)
  else if (address.page === 'history') await renderHistory(scope, address.route)
  else await renderReport(scope, address.route)
}

async function showTokenForm (message) {
  scope?.dispose()
  scope = undefined
  session.name = undefined
  session.role = undefined
  renderWho()
  fill(document.getElementById('nav'))
  if (message !== undefined) showAlert(message, 'error')

  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', spellcheck: false, required: true })
  const submit = (event) => {
    event.preventDefault()
    void useToken(input.value.trim())
  }
  // method=post: should the script ever fail to catch the submit, the
  // token goes in a body, never into the address.
  const form = h('form', { class: 'token-form', method: 'post', onsubmit: submit },
    h('h1', { text: 'shadowramp' }),
    h('p', { text: 'Enter an admin token (admin.tokens). A read token shows everything; an operator token ' +
      'may also change rollouts. The demo prints both.' }),
    h('label', { for: 'token', text: 'Admin token' }),
    h('div', { class: 'token-row' }, input, h('button', { type: 'submit', text: 'Open' })),
    h('p', { class: 'hint', text: 'Kept in this tab only (sessionStorage) and sent as a bearer token to /api.' }))
  fill(document.getElementById('main'), form)
  input.focus()
}

async function useToken (token) {
  if (token === '') return

  hideAlert()
  keepToken(token)
  if (await loadSession()) {
    await showPage()
  }
}

/** Asks the API what the stored token may do; false (and the token forgotten) when it is refused. */
async function loadSession () {
  try {
    const token = await callApi('GET', '/token')
    session.name = token.name
    session.role = token.role
    renderWho()
    return true
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken()
      await showTokenForm(describeError(error))
    } else {
      showAlert(describeError(error), 'error')
      const retry = async () => { if (await loadSession()) { hideAlert(); await showPage() } }
      fill(document.getElementById('main'), h('button', { type: 'button', text: 'Try again', onclick: retry }))
    }
    return false
  }
}

async function start () {
  window.addEventListener('hashchange', () => { void showPage() })
  if (readToken() === null) { await showTokenForm(); return }
  if (await loadSession()) await showPage()
}

void start()
