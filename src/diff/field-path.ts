/*
 * Field paths inside a JSON body, and the patterns that rules use to name
 * them.
 *
 * A path is written `data.items[3].price`; with array indices collapsed,
 * as reports show it, `data.items[*].price`. The whole body is the empty
 * path ''. A key that is not made of letters, digits, `_`, `$` and `-` is
 * written quoted: `labels["en-GB.title"]`, `["@type"]`.
 *
 * A pattern is a collapsed path that may also use `*` (any one key) and
 * `**` (any number of keys and indices, including none): `**.timestamp`,
 * `data.*.id`, `items[*].traceId`.
 */

/** One step into a body: an object key, or an array index. */
export type PathStep = string | number

/** One step of a pattern: a key, or a wildcard. */
export type PatternStep =
  | { kind: 'key', name: string }
  | { kind: 'any-key' }
  | { kind: 'any-index' }
  | { kind: 'any-depth' }

/** What a pattern should look like, as configuration errors say it. */
export const fieldPathExpectation = 'a field path such as items[*].id or **.timestamp'

const bareKey = /^[A-Za-z0-9_$-]+$/

/** The path as text; `collapse` writes every array index as `[*]`. */
export function renderPath (steps: readonly PathStep[], collapse: boolean): string {
  let text = ''
  for (const step of steps) {
    if (typeof step === 'number') text += collapse ? '[*]' : `[${step}]`
    else if (!bareKey.test(step)) text += `[${JSON.stringify(step)}]`
    else text += text === '' ? step : `.${step}`
  }

  return text
}

/**
 * Reads a pattern (or a collapsed path). Returns undefined when the text
 * is not one, so callers can say what was expected.
 */
export function parseFieldPattern (text: string): PatternStep[] | undefined {
  const steps: PatternStep[] = []
  let at = 0
  while (at < text.length) {
    if (text[at] === '[') {
      const bracket = readBracket(text, at)
      if (bracket === undefined) return undefined
      steps.push(bracket.step)
      at = bracket.end
      continue
    }

    if (steps.length > 0 && text[at++] !== '.') return undefined
    const end = findWordEnd(text, at)
    const step = readWordStep(text.slice(at, end))
    if (step === undefined) return undefined
    steps.push(step)
    at = end
  }

  return steps
}

/**
 * Whether a path matches a pattern, step by step. `**` is matched the way
 * a glob matches `*`: greedily, backing up to the last `**` on a mismatch,
 * which is enough because every other step matches exactly one step.
 */
export function matchesPattern (
  pattern: readonly PatternStep[], path: readonly PathStep[]
): boolean {
  let p = 0
  let s = 0
  let lastDeep = -1
  let resumeAt = 0
  while (s < path.length) {
    const step = pattern[p]
    if (step?.kind === 'any-depth') {
      lastDeep = p++
      resumeAt = s
    } else if (step !== undefined && matchesStep(step, path[s] as PathStep)) {
      p++
      s++
    } else if (lastDeep >= 0) {
      p = lastDeep + 1
      s = ++resumeAt
    } else {
      return false
    }
  }
  while (pattern[p]?.kind === 'any-depth') p++

  return p === pattern.length
}

/** The last step when it is an object key: `timestamp` for `a[*].timestamp`. */
export function findLastKey (steps: readonly PatternStep[]): string | undefined {
  const last = steps.at(-1)

  return last?.kind === 'key' ? last.name : undefined
}

function matchesStep (step: PatternStep, actual: PathStep): boolean {
  if (step.kind === 'key') return step.name === actual
  if (step.kind === 'any-key') return typeof actual === 'string'

  return typeof actual === 'number'
}

function readBracket (text: string, at: number): { step: PatternStep, end: number } | undefined {
  if (text.startsWith('[*]', at)) return { step: { kind: 'any-index' }, end: at + 3 }
  if (text[at + 1] !== '"') return undefined

  const close = findClosingQuote(text, at + 2)
  if (close < 0 || text[close + 1] !== ']') return undefined

  try {
    const name = JSON.parse(text.slice(at + 1, close + 1)) as string
    return { step: { kind: 'key', name }, end: close + 2 }
  } catch {
    return undefined
  }
}

function findClosingQuote (text: string, from: number): number {
  for (let at = from; at < text.length; at++) {
    if (text[at] === '\\') at++
    else if (text[at] === '"') return at
  }

  return -1
}

function findWordEnd (text: string, from: number): number {
  let end = from
  while (end < text.length && text[end] !== '.' && text[end] !== '[') end++

  return end
}

function readWordStep (word: string): PatternStep | undefined {
  if (word === '*') return { kind: 'any-key' }
  if (word === '**') return { kind: 'any-depth' }

  return bareKey.test(word) ? { kind: 'key', name: word } : undefined
}
