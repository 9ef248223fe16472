// The one message line under the header: errors stay until dismissed or
// until the call that failed succeeds again; news of a change is info.

import { fill, h } from './dom.js'

export function showAlert (message, kind = 'error') {
  const alert = document.getElementById('alert')
  alert.dataset.kind = kind
  alert.hidden = false
  const dismiss = h('button', { type: 'button', class: 'link', text: 'dismiss', onclick: hideAlert })
  fill(alert, h('span', { class: 'alert-text', text: message }), dismiss)
}

export function hideAlert () {
  const alert = document.getElementById('alert')
  alert.hidden = true
  delete alert.dataset.kind
  alert.replaceChildren()
}

/** Clears an error, not news: used once a failed call works again. */
export function clearError () {
  if (document.getElementById('alert').dataset.kind === 'error') hideAlert()
}
