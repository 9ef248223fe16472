// Pretty-prints a JSON body with every value addressable by the field
// path the diff engine writes (`items[3].price`), so a difference's `at`
// finds the value to highlight.
//
// The body is read by a small parser of its own rather than JSON.parse:
// numbers keep their text (an id of 2^53 + 1 must not show rounded, when
// that may be the very difference), and keys keep their order.

const bareKey = /^[A-Za-z0-9_$-]+$/

/** Deeper bodies are shown as text: the diff engine refuses them too, and recursion stays bounded. */
const maxDepth = 200

/** One step of a path as the diff engine writes it (see src/diff/field-path.ts). */
export function appendStep (path, step, collapse = false) {
  if (typeof step === 'number') return `${path}${collapse ? '[*]' : `[${step}]`}`
  if (!bareKey.test(step)) return `${path}[${JSON.stringify(step)}]`

  return path === '' ? step : `${path}.${step}`
}

/** The tree of a JSON text, or undefined when it is not JSON (or was cut short). */
export function parseJsonTree (text) {
  const parser = new TreeParser(text)
  try {
    const value = parser.value(0)
    parser.space()
    return parser.at === text.length ? value : undefined
  } catch {
    return undefined
  }
}

const stringToken = /"(?:[^"\\\u0000-\u001f]|\\.)*"/y
const scalarToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y

class TreeParser {
  constructor (text) {
    this.text = text
    this.at = 0
  }

  space () {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++
  }

  value (depth) {
    if (depth > maxDepth) throw new Error('too deep')
    this.space()
    const char = this.text[this.at]
    if (char === '{') return this.object(depth)
    if (char === '[') return this.array(depth)
    if (char === '"') return { type: 'string', raw: this.string() }

    return this.scalar()
  }

  object (depth) {
    const entries = []
    this.at++
    this.space()
    if (this.text[this.at] === '}') { this.at++; return { type: 'object', entries } }
    for (;;) {
      this.space()
      const key = JSON.parse(this.string())
      this.space()
      this.expect(':')
      entries.push([key, this.value(depth + 1)])
      this.space()
      if (this.text[this.at] === '}') { this.at++; return { type: 'object', entries } }
      this.expect(',')
    }
  }

  array (depth) {
    const items = []
    this.at++
    this.space()
    if (this.text[this.at] === ']') { this.at++; return { type: 'array', items } }
    for (;;) {
      items.push(this.value(depth + 1))
      this.space()
      if (this.text[this.at] === ']') { this.at++; return { type: 'array', items } }
      this.expect(',')
    }
  }

  string () {
    return this.match(stringToken, 'bad string')
  }

  scalar () {
    const raw = this.match(scalarToken, 'bad value')

    return { type: /^[tfn]/.test(raw) ? 'literal' : 'number', raw }
  }

  /** Reads a token where the parser stands (sticky patterns: no copy of the rest of the text). */
  match (pattern, problem) {
    pattern.lastIndex = this.at
    const found = pattern.exec(this.text)
    if (found === null) throw new Error(problem)
    this.at += found[0].length

    return found[0]
  }

  expect (char) {
    if (this.text[this.at] !== char) throw new Error(`expected ${char}`)
    this.at++
  }
}

/** A value in one canonical form, to tell whether two sides hold the same one. */
export function canonical (node) {
  if (node === undefined) return undefined
  if (node.type === 'object') {
    const entries = node.entries.map(([key, value]) => `${JSON.stringify(key)}:${canonical(value)}`)
    return `{${entries.join(',')}}`
  }
  if (node.type === 'array') return `[${node.items.map(canonical).join(',')}]`
  if (node.type === 'string') return JSON.stringify(JSON.parse(node.raw))
  if (node.type === 'number') return canonicalNumber(node.raw)

  return node.raw
}

/** 1.0 and 1 are one number; integers past 2^53 compare by their digits. */
function canonicalNumber (raw) {
  const value = Number(raw)
  if (/^-?\d+$/.test(raw) && !Number.isSafeInteger(value)) return raw.replace(/^(-?)0+(?=\d)/, '$1')

  return String(value)
}

/** The node at a path, or undefined. */
export function findNode (tree, path) {
  let found
  walk(tree, '', '', (node, at) => { if (at === path) found = node })

  return found
}

/** Calls visit(node, path, collapsedPath) for every value, the root first. */
export function walk (node, path, collapsed, visit) {
  visit(node, path, collapsed)
  if (node.type === 'object') {
    for (const [key, value] of node.entries) walk(value, appendStep(path, key), appendStep(collapsed, key, true), visit)
  } else if (node.type === 'array') {
    node.items.forEach((value, index) => walk(value, appendStep(path, index), appendStep(collapsed, index, true), visit))
  }
}

/**
 * Renders a tree into `pre` as indented text. Returns a map from each
 * value's path to the element holding it.
 */
export function renderJsonTree (pre, tree) {
  const elements = new Map()
  const out = document.createDocumentFragment()
  renderNode(out, tree, '', 0, elements)
  pre.append(out)

  return elements
}

function renderNode (parent, node, path, indent, elements) {
  const element = document.createElement('span')
  element.className = `j-${node.type}`
  element.dataset.at = path
  elements.set(path, element)
  parent.append(element)

  if (node.type === 'object') {
    renderChildren(element, '{', '}', node.entries, indent, ([key, value], row) => {
      row.append(keyText(key))
      renderNode(row, value, appendStep(path, key), indent + 1, elements)
    })
  } else if (node.type === 'array') {
    renderChildren(element, '[', ']', node.items, indent, (value, row, index) => {
      renderNode(row, value, appendStep(path, index), indent + 1, elements)
    })
  } else {
    element.textContent = node.raw
  }
}

function renderChildren (element, open, close, children, indent, renderChild) {
  if (children.length === 0) { element.textContent = `${open}${close}`; return }

  element.append(`${open}\n`)
  children.forEach((child, index) => {
    element.append('  '.repeat(indent + 1))
    renderChild(child, element, index)
    element.append(index < children.length - 1 ? ',\n' : '\n')
  })
  element.append(`${'  '.repeat(indent)}${close}`)
}

function keyText (key) {
  const span = document.createElement('span')
  span.className = 'j-key'
  span.textContent = `${JSON.stringify(key)}: `

  return span
}
