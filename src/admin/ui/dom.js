// Small helpers to build the page. Text always goes in as text nodes,
// never as HTML, so nothing a backend answered can turn into markup.

/**
 * Creates an element. `props`: class, text, title, on<event> handlers,
 * data-* and aria-* attributes, and any property the element has
 * (value, disabled, hidden, type, …). Children may be nodes, strings,
 * numbers, arrays of those, or null/false to skip.
 */
export function h (tag, props = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) setProp(element, name, value)
  append(element, children)

  return element
}

function setProp (element, name, value) {
  if (value === undefined || value === null || value === false) return
  if (name === 'class') element.className = value
  else if (name === 'text') element.textContent = String(value)
  else if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
  else if (/^(data-|aria-|role$|for$)/.test(name)) element.setAttribute(name, String(value))
  else element[name] = value
}

export function append (parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    parent.append(child instanceof Node ? child : String(child))
  }

  return parent
}

/** Replaces an element's content. */
export function fill (element, ...children) {
  element.replaceChildren()

  return append(element, children)
}

/** A fraction 0–1 as a percent: 0.0123 → "1.23%"; null → "–". */
export function formatRate (rate, digits = 2) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return '–'

  return `${Number((rate * 100).toFixed(digits))}%`
}

/** A percentage 0–100 as stored: 12.5 → "12.5%". */
export function formatPercentage (percentage) {
  return `${Number(percentage.toFixed(2))}%`
}

export function formatCount (count) {
  return Number(count ?? 0).toLocaleString('en-US')
}

export function formatMs (ms) {
  if (ms === null || ms === undefined) return '–'

  return ms >= 10 ? `${Math.round(ms)} ms` : `${Number(ms.toFixed(1))} ms`
}

/** Local time of an ISO string or epoch ms: "16:48:58", with the date when it is not today. */
export function formatTime (time) {
  const date = new Date(time)
  const today = new Date().toDateString() === date.toDateString()
  const clock = date.toLocaleTimeString('en-GB', { hour12: false })

  return today ? clock : `${date.toISOString().slice(0, 10)} ${clock}`
}

/** How long ago: "12 s ago", "4 min ago", "3 h ago". */
export function formatAgo (time, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - new Date(time).getTime()) / 1_000))
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 36 * 3_600) return `${Math.round(seconds / 3_600)} h ago`

  return `${Math.round(seconds / 86_400)} d ago`
}

export function formatDuration (ms) {
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${Number((ms / 1_000).toFixed(1))} s`

  return `${Number((ms / 60_000).toFixed(1))} min`
}

/** The status as people read it: rolled-back → "rolled back". */
export function statusLabel (status) {
  return status.replace('-', ' ')
}

export function statusBadge (status) {
  return h('span', { class: `badge status-${status}`, 'data-status': status, text: statusLabel(status) })
}

/** A history action as people read it: roll-back → "roll back". */
export function actionLabel (action) {
  return action.replace('-', ' ')
}

/** A route's place in its plan: "step 2 of 4 (25%)", or "no plan". */
export function formatStep (view) {
  const { step, plan } = view
  if (step === null || plan === null) return 'no plan'
  // Rolled back to 0%, a route keeps its step for a retry to start from:
  // shown as its step, "step 1 of 4 (10%)" beside 0% would read as served.
  if (view.status === 'rolled-back' && view.percentage < step.percentage) {
    return `rolled back; a retry starts at step 1 of ${step.of} (${formatPercentage(plan.steps[0])})`
  }

  return `step ${step.index + 1} of ${step.of} (${formatPercentage(step.percentage)})`
}

/** A button that shows it is busy while its action runs, and cannot be clicked twice. */
export function actionButton (label, props, run) {
  const button = h('button', { type: 'button', text: label, ...props })
  button.addEventListener('click', async () => {
    button.disabled = true
    button.setAttribute('aria-busy', 'true')
    try {
      await run()
    } finally {
      button.removeAttribute('aria-busy')
      if (button.isConnected) button.disabled = false
    }
  })

  return button
}
