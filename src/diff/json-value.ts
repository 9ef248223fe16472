/**
 * A decoded JSON body. Integers beyond ±2^53 are `bigint` (see
 * exact-json.ts), so two large ids that a double would round to the same
 * value still compare as different.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject

export interface JsonObject {
  [key: string]: JsonValue
}

/**
 * A value as a report shows it: plain JSON, safe to serialize. Integers
 * beyond ±2^53 appear as their decimal digits in a string.
 */
export type ReportedValue =
  | null | boolean | number | string | ReportedValue[] | { [key: string]: ReportedValue }

/** The JSON type of a value; a `bigint` is a number. */
export type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object'

export function getJsonType (value: JsonValue): JsonType {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'

  const type = typeof value
  if (type === 'bigint') return 'number'

  return type as JsonType
}

export function isJsonObject (value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isNumeric (value: JsonValue): value is number | bigint {
  return typeof value === 'number' || typeof value === 'bigint'
}

/**
 * Strict structural equality: same keys (in any order), same elements in
 * the same order, numbers by value. It answers "no difference of any kind,
 * not even an ignored one", so false only means "look closer".
 */
export function areEqual (baseline: JsonValue, candidate: JsonValue): boolean {
  if (baseline === candidate) return true
  if (typeof baseline !== 'object' || typeof candidate !== 'object') return false
  if (baseline === null || candidate === null) return false

  if (Array.isArray(baseline) !== Array.isArray(candidate)) return false
  if (Array.isArray(baseline)) return areEqualArrays(baseline, candidate as JsonValue[])

  return areEqualObjects(baseline, candidate as JsonObject)
}

function areEqualArrays (baseline: JsonValue[], candidate: JsonValue[]): boolean {
  if (baseline.length !== candidate.length) return false

  for (let index = 0; index < baseline.length; index++) {
    if (!areEqual(baseline[index] as JsonValue, candidate[index] as JsonValue)) return false
  }

  return true
}

/** for…in rather than Object.keys: this runs on most of every pair, and allocates nothing. */
function areEqualObjects (baseline: JsonObject, candidate: JsonObject): boolean {
  let keys = 0
  for (const key in baseline) {
    if (!Object.hasOwn(candidate, key)) return false
    if (!areEqual(baseline[key] as JsonValue, candidate[key] as JsonValue)) return false
    keys++
  }

  return keys === Object.keys(candidate).length
}

/**
 * The report form of a value. Only documents that hold big integers need
 * the deep walk, so the caller says whether this one may.
 */
export function reportValue (value: JsonValue, mayHoldBigInts: boolean): ReportedValue {
  if (typeof value === 'bigint') return value.toString()
  if (!mayHoldBigInts || value === null || typeof value !== 'object') return value as ReportedValue
  if (Array.isArray(value)) return value.map((element) => reportValue(element, true))

  const reported: Record<string, ReportedValue> = {}
  for (const key of Object.keys(value)) {
    defineEntry(reported, key, reportValue(value[key] as JsonValue, true))
  }

  return reported
}

/**
 * Sets a key as an own property even when it is `__proto__`, which plain
 * assignment would take as the prototype instead of a JSON key.
 */
export function defineEntry<T> (target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    const property = { value, enumerable: true, writable: true, configurable: true }
    Object.defineProperty(target, key, property)
    return
  }

  target[key] = value
}
