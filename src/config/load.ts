import { readFileSync } from 'node:fs'
import { isMap, LineCounter, parse as parseYaml, parseDocument, type Document, type Node } from 'yaml'
import type { z } from 'zod'
import { SR_ERR_CONFIG_INVALID, SR_ERR_CONFIG_UNREADABLE } from '../errors.js'
import { configSchema, type Config } from './schema.js'

type Env = Record<string, string | undefined>
type PathKey = string | number

/** One problem in a configuration file, already phrased for people. */
export interface ConfigProblem {
  file: string
  line: number
  column: number
  path: string
  expected: string
  found: string
}

const interpolation = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g
const wholeInterpolation = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/

/**
 * Reads, validates and freezes a configuration file. Every problem is
 * reported at once, one line each, in the error's message.
 */
export function loadConfig (file: string, env: Env = process.env): Readonly<Config> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new SR_ERR_CONFIG_UNREADABLE(file, (err as Error).message, { cause: err })
  }

  return parseConfig(text, file, env)
}

export function parseConfig (text: string, file: string, env: Env = {}): Readonly<Config> {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  // Only the first syntax error: the ones after it are mostly its echoes.
  const [syntaxError] = doc.errors
  if (syntaxError !== undefined) throw configError([syntaxProblem(file, lines, syntaxError.pos[0], syntaxError.message)])

  const problems: ConfigProblem[] = []
  const locate = (path: PathKey[]): { line: number, column: number } => locateInDocument(doc, lines, path)
  const raw = interpolateEnv(doc.toJS() ?? {}, [], env, (path, name) => {
    problems.push({ file, ...locate(path), path: formatPath(path), expected: `environment variable ${name} to be set`, found: 'it unset' })
  })
  applyEnvOverrides(raw, env)
  dropExtensionKeys(raw)

  const result = configSchema.safeParse(raw, { reportInput: true })
  if (!result.success) {
    // An unset variable is reported once, not again as the empty value it left.
    const unset = new Set(problems.map((problem) => problem.path))
    for (const issue of result.error.issues) {
      const problem = describeIssue(issue, file, doc, lines)
      if (!unset.has(problem.path)) problems.push(problem)
    }
  }
  if (problems.length > 0 || !result.success) throw configError(problems)

  return deepFreeze(result.data)
}

export function formatProblem (problem: ConfigProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.column}`
  const path = problem.path === '' ? '' : ` ${problem.path}:`

  return `${where}${path} expected ${problem.expected}, found ${problem.found}`
}

/** In the order of the file, so a reader fixes them from the top down. */
function configError (problems: ConfigProblem[]): Error {
  const ordered = [...problems].sort((a, b) => a.line - b.line || a.column - b.column)
  const error = new SR_ERR_CONFIG_INVALID(ordered.map(formatProblem).join('\n'))

  return Object.assign(error, { problems: ordered })
}

function syntaxProblem (file: string, lines: LineCounter, offset: number, message: string): ConfigProblem {
  const { line, col } = lines.linePos(offset)
  const firstLine = message.split('\n')[0] ?? message

  return { file, line, column: col, path: '', expected: 'valid YAML', found: firstLine }
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in string values. An unset
 * variable without a default is a problem, reported with its place.
 */
function interpolateEnv (value: unknown, path: PathKey[], env: Env, onMissing: (path: PathKey[], name: string) => void): unknown {
  if (typeof value === 'string') {
    const replaced = value.replace(interpolation, (_match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback

      onMissing(path, name)
      return ''
    })
    // A value that is one whole ${...} is typed as YAML would type it in
    // place, so `port: ${PORT:-8080}` is a number.
    return replaced !== value && wholeInterpolation.test(value) ? parseScalar(replaced) : replaced
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolateEnv(item, [...path, index], env, onMissing))
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, [...path, key], env, onMissing)])
    return Object.fromEntries(entries)
  }

  return value
}

/**
 * Environment variables that win over the file, for secrets and URLs:
 * REDIS_URL, and SHADOWRAMP_<ROUTE>_BASELINE_URL / _CANDIDATE_URL where
 * <ROUTE> is the route name in upper case with - turned into _.
 */
function applyEnvOverrides (raw: unknown, env: Env): void {
  if (raw === null || typeof raw !== 'object') return

  const config = raw as { redis?: Record<string, unknown>, routes?: unknown }
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    config.redis = { ...(config.redis ?? {}), url: env.REDIS_URL }
  }
  if (!Array.isArray(config.routes)) return

  for (const route of config.routes as Array<Record<string, unknown>>) {
    if (route === null || typeof route !== 'object' || typeof route.name !== 'string') continue

    const prefix = `SHADOWRAMP_${route.name.toUpperCase().replace(/-/g, '_')}_`
    for (const side of ['baseline', 'candidate'] as const) {
      const url = env[`${prefix}${side.toUpperCase()}_URL`]
      if (url === undefined || url === '') continue
      const backend = route[side]
      route[side] = { ...(backend !== null && typeof backend === 'object' ? backend : {}), url }
    }
  }
}

/**
 * Top-level keys starting with `x-` hold YAML anchors to reuse (a shared
 * plan, say), as in docker-compose files; they are not options.
 */
function dropExtensionKeys (raw: unknown): void {
  if (raw === null || typeof raw !== 'object') return

  for (const key of Object.keys(raw)) {
    if (key.startsWith('x-')) delete (raw as Record<string, unknown>)[key]
  }
}

function describeIssue (issue: z.core.$ZodIssue, file: string, doc: Document, lines: LineCounter): ConfigProblem {
  const path = issue.path.filter((key): key is PathKey => typeof key !== 'symbol')
  const input = (issue as { input?: unknown }).input

  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? ''
    const place = locateKey(doc, lines, path, key)
    const extra = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).join(', ')})` : ''
    return { file, ...place, path: formatPath(path), expected: 'only known keys', found: `unknown key "${key}"${extra}` }
  }

  const place = locateInDocument(doc, lines, path)
  const expected = issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')
    ? article(issue.expected)
    : issue.message

  return { file, ...place, path: formatPath(path), expected, found: describeValue(input) }
}

function locateInDocument (doc: Document, lines: LineCounter, path: PathKey[]): { line: number, column: number } {
  for (let length = path.length; length >= 0; length--) {
    const node = doc.getIn(path.slice(0, length), true) as Node | undefined
    if (node?.range !== undefined && node.range !== null) {
      const { line, col } = lines.linePos(node.range[0])
      return { line, column: col }
    }
  }

  return { line: 1, column: 1 }
}

function locateKey (doc: Document, lines: LineCounter, path: PathKey[], key: string): { line: number, column: number } {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true)
  if (isMap(map)) {
    const pair = map.items.find((item) => (item.key as { value?: unknown } | null)?.value === key)
    const range = (pair?.key as Node | undefined)?.range
    if (range !== undefined && range !== null) {
      const { line, col } = lines.linePos(range[0])
      return { line, column: col }
    }
  }

  return locateInDocument(doc, lines, path)
}

export function formatPath (path: PathKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`
    return text === '' ? key : `${text}.${key}`
  }, '')
}

function describeValue (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return listed(value)
  if (typeof value === 'object') return 'a mapping'

  return String(value)
}

/** A short list as written ("[50, 10]"), a long one by its length. */
function listed (values: unknown[]): string {
  const written = JSON.stringify(values)
  if (values.length === 0) return 'an empty list'

  return written.length <= 60 ? written.replaceAll(',', ', ') : `a list of ${values.length}`
}

function article (type: string): string {
  const names: Record<string, string> = {
    number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'a mapping'
  }

  return names[type] ?? type
}

function deepFreeze<T> (value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const item of Object.values(value)) deepFreeze(item)
  }

  return value
}

function parseScalar (text: string): unknown {
  try {
    const parsed: unknown = parseYaml(text)
    return parsed !== null && typeof parsed === 'object' ? text : parsed
  } catch {
    return text
  }
}
