import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

/*
 * What the dashboard and the alert rules ask Prometheus for, and what the
 * processes export, so that a test can hold one against the other. The
 * PromQL reader knows just enough of the language to find selectors: it
 * is not a parser, and an expression it misreads shows up as a metric
 * nobody exports, which fails loudly.
 */

export const repoRoot = join(import.meta.dirname, '..', '..')

/** One expression and where it is used, for messages. */
export interface QueryUse {
  where: string
  expr: string
}

export interface Matcher {
  label: string
  op: '=' | '!=' | '=~' | '!~'
  value: string
}

export interface Selector {
  metric: string
  matchers: Matcher[]
}

/** Series of one metric name in a scrape: label names and the values seen. */
export type Exposition = Map<string, Map<string, Set<string>>>

export function readRepoFile (path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8')
}

export function readYaml (path: string): any {
  return parse(readRepoFile(path), { merge: true })
}

/** Every PromQL expression of a Grafana dashboard: panels, template variables, annotations. */
export function dashboardQueries (dashboard: any): QueryUse[] {
  const uses: QueryUse[] = []
  const visit = (panels: any[]): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string') uses.push({ where: `panel "${panel.title}"`, expr: target.expr })
      }
      visit(panel.panels)
    }
  }
  visit(dashboard.panels)

  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query
    if (typeof query === 'string') uses.push({ where: `variable $${variable.name}`, expr: query })
  }
  for (const annotation of dashboard.annotations?.list ?? []) {
    // Prometheus annotations keep `expr` beside the name, or in `target` as Grafana 10+ saves them.
    const expr = annotation.expr ?? annotation.target?.expr
    if (typeof expr === 'string') uses.push({ where: `annotation "${annotation.name}"`, expr })
  }

  return uses
}

/** Every rule of a Prometheus rule file, alerting or recording. */
export function ruleQueries (rules: any): QueryUse[] {
  return (rules.groups ?? []).flatMap((group: any) => (group.rules ?? []).map((rule: any) => ({
    where: `rule ${rule.alert ?? rule.record}`,
    expr: String(rule.expr)
  })))
}

type Token =
  | { kind: 'name', text: string }
  | { kind: 'string', text: string }
  | { kind: 'punct', text: string }

const aggregations = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values',
  'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio'
])
const groupings = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])
const keywords = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan'])
/** Grafana's `label_values(selector, label)` and `label_values(label)`. */
const labelValues = /label_values\(\s*(?:(.*),)?\s*\w+\s*\)/g

/**
 * Splits an expression into names, strings and punctuation. Numbers and
 * durations (`0.05`, `5m`), range brackets and Grafana's variables
 * (`$route`, `${route}`, `$__rate_interval`) are dropped.
 */
export function tokenize (expr: string): Token[] {
  const tokens: Token[] = []
  let at = 0
  while (at < expr.length) {
    const char = expr[at] as string
    if (/\s/.test(char)) { at++; continue }
    if (char === '#') { at = skipLine(expr, at); continue }
    if (char === '"' || char === "'" || char === '`') {
      const end = closingQuote(expr, at)
      tokens.push({ kind: 'string', text: unquote(expr.slice(at + 1, end)) })
      at = end + 1
      continue
    }
    if (char === '$') { at = skipVariable(expr, at); continue }
    if (char === '[') { at = expr.indexOf(']', at) + 1 || expr.length; continue }

    const name = /^[A-Za-z_:][\w:]*/.exec(expr.slice(at))
    if (name !== null) { tokens.push({ kind: 'name', text: name[0] }); at += name[0].length; continue }
    const number = /^[\d.][\w.]*/.exec(expr.slice(at))
    if (number !== null) { at += number[0].length; continue }
    const operator = /^(=~|!~|!=|==|>=|<=)/.exec(expr.slice(at))
    tokens.push({ kind: 'punct', text: operator?.[0] ?? char })
    at += operator?.[0].length ?? 1
  }

  return tokens
}

/**
 * The selectors of an expression: each metric name with the label
 * matchers written beside it. Grafana's `label_values(selector, label)`
 * counts as its selector.
 */
export function selectorsOf (expr: string): Selector[] {
  const tokens = tokenize(expr.replace(labelValues, (_match, selector: string | undefined) => selector ?? ''))
  const selectors: Selector[] = []
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] as Token
    const next = tokens[index + 1]
    if (token.kind === 'punct' && token.text === '{') {
      const { matchers, end } = readMatchers(tokens, index)
      const name = matchers.find((matcher) => matcher.label === '__name__' && matcher.op === '=')
      const rest = matchers.filter((matcher) => matcher !== name)
      if (name !== undefined) selectors.push({ metric: name.value, matchers: rest })
      index = end
      continue
    }
    if (token.kind !== 'name') continue

    if (groupings.has(token.text) && next?.text === '(') { index = closingParen(tokens, index + 1); continue }
    if (aggregations.has(token.text) || keywords.has(token.text) || groupings.has(token.text) || next?.text === '(') continue

    if (next?.text === '{') {
      const { matchers, end } = readMatchers(tokens, index + 1)
      selectors.push({ metric: token.text, matchers })
      index = end
    } else {
      selectors.push({ metric: token.text, matchers: [] })
    }
  }

  return selectors
}

export function metricNamesOf (expr: string): string[] {
  return [...new Set(selectorsOf(expr).map((selector) => selector.metric))]
}

/**
 * Whether every aggregation in the expression keeps the `route` label
 * (`by (..., route)`), so that its result, and an alert made of it, is
 * labelled with the route. Expressions without an aggregation say nothing.
 */
export function keepsRouteLabel (expr: string): { aggregations: number, dropping: string[] } {
  const tokens = tokenize(expr)
  const dropping: string[] = []
  let count = 0
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] as Token
    if (token.kind !== 'name' || !aggregations.has(token.text)) continue

    count++
    const grouping = findGrouping(tokens, index)
    const keeps = grouping !== undefined && grouping.kind === 'by' && grouping.labels.includes('route')
    const written = grouping === undefined ? '(no grouping)' : `${grouping.kind} (${grouping.labels.join(', ')})`
    if (!keeps) dropping.push(`${token.text} ${written}`)
  }

  return { aggregations: count, dropping }
}

/** Reads Prometheus's text exposition: every sample's name, label names and values. */
export function parseExposition (text: string, into: Exposition = new Map()): Exposition {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue

    const match = /^([A-Za-z_:][\w:]*)(\{(.*)\})?\s/.exec(line)
    if (match === null) throw new Error(`not an exposition line: ${line}`)
    const labels = into.get(match[1] as string) ?? new Map<string, Set<string>>()
    into.set(match[1] as string, labels)
    for (const [, name, value] of (match[3] ?? '').matchAll(/([\w]+)="((?:[^"\\]|\\.)*)"/g)) {
      const values = labels.get(name as string) ?? new Set<string>()
      values.add(unquote(value as string))
      labels.set(name as string, values)
    }
  }

  return into
}

export interface CheckOptions {
  /** Series Prometheus writes itself (`up`, `ALERTS`): not looked for in any scrape. */
  prometheusOwn: ReadonlySet<string>
  /** Labels a scrape adds to every series (`job`, `instance`). */
  targetLabels: ReadonlySet<string>
}

/**
 * What the expressions ask for that no scrape has: a metric name, a label
 * name on a metric, or a literal label value (`verdict="diverging"`, each
 * word of `verdict=~"diverging|status-mismatch"`) never seen on it.
 */
export function findUnexported (uses: readonly QueryUse[], exported: Exposition, options: CheckOptions): string[] {
  const problems: string[] = []
  for (const { where, expr } of uses) {
    for (const { metric, matchers } of selectorsOf(expr)) {
      if (options.prometheusOwn.has(metric)) continue
      const labels = exported.get(metric)
      if (labels === undefined) { problems.push(`${where}: ${metric} is exported by no process`); continue }

      for (const { label, op, value } of matchers) {
        if (options.targetLabels.has(label)) continue
        const seen = labels.get(label)
        if (seen === undefined) { problems.push(`${where}: ${metric} has no label ${label}`); continue }
        for (const literal of literalValues(op, value)) {
          if (seen.has(literal)) continue
          problems.push(`${where}: ${metric}{${label}="${literal}"} never seen (seen: ${[...seen].sort().join(', ')})`)
        }
      }
    }
  }

  return [...new Set(problems)]
}

/** The values a matcher names literally; none for patterns and Grafana variables. */
function literalValues (op: Matcher['op'], value: string): string[] {
  if (value === '' || value.includes('$')) return []
  if (op === '=' || op === '!=') return [value]

  return /^[\w.-]+(\|[\w.-]+)*$/.test(value) ? value.split('|') : []
}

function readMatchers (tokens: Token[], open: number): { matchers: Matcher[], end: number } {
  const matchers: Matcher[] = []
  let index = open + 1
  while (index < tokens.length && tokens[index]?.text !== '}') {
    const [label, op, value] = [tokens[index], tokens[index + 1], tokens[index + 2]]
    if (label?.kind === 'name' && op?.kind === 'punct' && value?.kind === 'string') {
      matchers.push({ label: label.text, op: op.text as Matcher['op'], value: value.text })
      index += 3
    } else {
      // A matcher on a Grafana variable lost its value with the variable.
      index++
    }
    if (tokens[index]?.text === ',') index++
  }

  return { matchers, end: index }
}

function findGrouping (tokens: Token[], at: number): { kind: string, labels: string[] } | undefined {
  let index = at + 1
  if (tokens[index]?.text !== '(') return readGrouping(tokens, index)

  const grouping = readGrouping(tokens, closingParen(tokens, index) + 1)
  return grouping ?? undefined
}

function readGrouping (tokens: Token[], index: number): { kind: string, labels: string[] } | undefined {
  const keyword = tokens[index]
  if (keyword?.kind !== 'name' || (keyword.text !== 'by' && keyword.text !== 'without')) return undefined

  const end = closingParen(tokens, index + 1)
  const labels = tokens.slice(index + 2, end).filter((token) => token.kind === 'name').map((token) => token.text)
  return { kind: keyword.text, labels }
}

function closingParen (tokens: Token[], open: number): number {
  let depth = 0
  for (let index = open; index < tokens.length; index++) {
    if (tokens[index]?.text === '(') depth++
    if (tokens[index]?.text === ')' && --depth === 0) return index
  }

  return tokens.length
}

function closingQuote (expr: string, open: number): number {
  const quote = expr[open]
  for (let index = open + 1; index < expr.length; index++) {
    if (expr[index] === '\\' && quote !== '`') { index++; continue }
    if (expr[index] === quote) return index
  }

  throw new Error(`unterminated string in ${expr}`)
}

function unquote (text: string): string {
  return text.replace(/\\(.)/g, (_match, char: string) => char === 'n' ? '\n' : char)
}

function skipLine (expr: string, at: number): number {
  const end = expr.indexOf('\n', at)
  return end === -1 ? expr.length : end
}

function skipVariable (expr: string, at: number): number {
  if (expr[at + 1] === '{') return expr.indexOf('}', at) + 1 || expr.length

  const name = /^\$\w+/.exec(expr.slice(at))
  return at + (name?.[0].length ?? 1)
}
