import type { PathStep } from './field-path.js'
import { isJsonObject, type JsonValue } from './json-value.js'

/*
 * Pairs up the elements of two arrays compared as multisets. Elements are
 * matched by an identity: the key field's value when the rule names one
 * and the element has it, else the element's whole content written in a
 * canonical form. Nothing is sorted, so the arrays keep their order and no
 * element is ever paired with one it merely sorted next to.
 *
 * TODO(fix): without a key, only equal content matches (ignored fields and
 * nulls aside): two elements within a numeric tolerance, or apart only in
 * a noisy field, come out as one only-in-baseline and one
 * only-in-candidate. Naming a key avoids it.
 */

export interface ElementMatching {
  /** Index in the baseline's array, index in the candidate's. */
  pairs: Array<[number, number]>
  onlyInBaseline: number[]
  onlyInCandidate: number[]
}

/** Says which keys to leave out of an element's identity (ignored fields). */
export type LeaveOut = (path: readonly PathStep[], value: JsonValue) => boolean

/** Says who an element is; two elements with one identity are a match. */
export type Identify = (element: JsonValue, index: number) => string

export function matchElements (
  baseline: readonly JsonValue[], candidate: readonly JsonValue[], identify: Identify
): ElementMatching {
  const waiting = groupByIdentity(candidate, identify)
  const pairs: Array<[number, number]> = []
  const onlyInBaseline: number[] = []
  baseline.forEach((element, index) => {
    const match = takeNext(waiting.get(identify(element, index)))
    if (match === undefined) onlyInBaseline.push(index)
    else pairs.push([index, match])
  })

  const onlyInCandidate = [...waiting.values()].flatMap((group) => group.indices.slice(group.next))

  return { pairs, onlyInBaseline, onlyInCandidate: onlyInCandidate.sort((a, b) => a - b) }
}

/**
 * An element's identity. Key values are told apart by type, so the id 7
 * and the id "7" are different elements.
 */
export function identifyElement (
  element: JsonValue, key: string | undefined, writeContent: (element: JsonValue) => string
): string {
  const id = key !== undefined && isJsonObject(element) ? element[key] : undefined
  const usable = id !== undefined && (id === null || typeof id !== 'object')
  if (usable) return `key ${writePrimitive(id)}`

  return `content ${writeContent(element)}`
}

/**
 * The value as text with object keys sorted, so that key order does not
 * matter, and without the keys `leaveOut` names.
 */
export function writeCanonical (value: JsonValue, path: PathStep[], leaveOut: LeaveOut): string {
  if (value === null || typeof value !== 'object') return writePrimitive(value)

  if (Array.isArray(value)) {
    const elements = value.map((element, index) =>
      writeCanonical(element, [...path, index], leaveOut))
    return `[${elements.join(',')}]`
  }

  const entries: string[] = []
  for (const key of Object.keys(value).sort()) {
    const child = value[key] as JsonValue
    const childPath = [...path, key]
    if (leaveOut(childPath, child)) continue

    entries.push(`${JSON.stringify(key)}:${writeCanonical(child, childPath, leaveOut)}`)
  }

  return `{${entries.join(',')}}`
}

/** Numbers by value: 1, 1.0 and 1e0 were all parsed to the same number. */
function writePrimitive (value: null | boolean | number | bigint | string): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

interface Waiting {
  indices: number[]
  next: number
}

function groupByIdentity (
  elements: readonly JsonValue[], identify: Identify
): Map<string, Waiting> {
  const groups = new Map<string, Waiting>()
  elements.forEach((element, index) => {
    const identity = identify(element, index)
    const group = groups.get(identity)
    if (group === undefined) groups.set(identity, { indices: [index], next: 0 })
    else group.indices.push(index)
  })

  return groups
}

function takeNext (group: Waiting | undefined): number | undefined {
  if (group === undefined || group.next >= group.indices.length) return undefined

  return group.indices[group.next++]
}
