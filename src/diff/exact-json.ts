import { defineEntry, type JsonObject, type JsonValue } from './json-value.js'

/*
 * A JSON parser that keeps integers beyond ±2^53 exact, as `bigint`.
 *
 * JSON.parse turns 9007199254740993 into 9007199254740992, so two different
 * 64-bit ids would compare as equal. BigInt was chosen over a tagged decimal
 * string because it is its own primitive type: it can never be mistaken for
 * a JSON string, deep-diff compares it by value with `!==`, and a tolerance
 * can subtract two of them exactly. The price is that it does not
 * serialize, so reports show it as a string (see reportValue).
 *
 * It only runs on text JSON.parse has already accepted and whose depth was
 * checked, which is why plain recursion is safe here, and why the fast
 * native parser stays the common path.
 */

/** 2^53: from here on, not every integer has its own double. */
const firstInexactInteger = 2 ** 53

/**
 * Beyond 10^1000 an integer is far outside the double range anyway; the
 * bound keeps an exponent such as 1e999999999 from building a huge string.
 * The number is arbitrary.
 */
const maxExactDigits = 1_000

const numberToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const numberParts = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/
const whitespace = new Set([' ', '\t', '\n', '\r'])

/** Parses JSON text; integral values at or beyond ±2^53 become `bigint`. */
export function parseExactJson (text: string): JsonValue {
  const reader = new ExactReader(text)
  const value = reader.readValue()
  reader.expectEnd()

  return value
}

/**
 * The exact value of a JSON number token: a `number` below 2^53, a
 * `bigint` for an integer at or beyond it, however it is written
 * (9007199254740993, 9.007199254740993e15, 9007199254740993.0).
 *
 * TODO(fix): a number with a fraction compares as a double: beyond 2^53
 * (9007199254740993.5) or past 17 significant digits (0.10000000000000001
 * equals 0.1).
 */
export function readExactNumber (token: string): number | bigint {
  const value = Number(token)
  if (Math.abs(value) < firstInexactInteger) return value

  const parts = numberParts.exec(token)
  if (parts === null) return value

  const [, sign = '', whole = '', fraction = '', exponent = '0'] = parts
  let digits = whole + fraction
  let shift = Number(exponent) - fraction.length
  while (shift < 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1)
    shift++
  }
  if (shift < 0 || digits.length + shift > maxExactDigits) return value

  return BigInt(sign + digits + '0'.repeat(shift))
}

class ExactReader {
  private at = 0

  constructor (private readonly text: string) {}

  readValue (): JsonValue {
    this.skipWhitespace()
    const char = this.text[this.at]
    if (char === '{') return this.readObject()
    if (char === '[') return this.readArray()
    if (char === '"') return this.readString()
    if (this.readWord('true')) return true
    if (this.readWord('false')) return false
    if (this.readWord('null')) return null

    return this.readNumber()
  }

  expectEnd (): void {
    this.skipWhitespace()
    if (this.at < this.text.length) this.fail('end of input')
  }

  private readObject (): JsonObject {
    const object: JsonObject = {}
    this.at++
    if (this.readSeparator('}')) return object

    do {
      this.skipWhitespace()
      if (this.text[this.at] !== '"') this.fail('a key')
      const key = this.readString()
      this.expectSeparator(':')
      defineEntry(object, key, this.readValue())
    } while (this.readSeparator(','))
    this.expectSeparator('}')

    return object
  }

  private readArray (): JsonValue[] {
    const array: JsonValue[] = []
    this.at++
    if (this.readSeparator(']')) return array

    do {
      array.push(this.readValue())
    } while (this.readSeparator(','))
    this.expectSeparator(']')

    return array
  }

  /** Finds the closing quote, then lets JSON.parse undo the escapes. */
  private readString (): string {
    const start = this.at
    let end = start + 1
    let escaped = false
    while (end < this.text.length && this.text[end] !== '"') {
      if (this.text[end] === '\\') {
        escaped = true
        end++
      }
      end++
    }
    if (end >= this.text.length) this.fail('a closing quote')

    this.at = end + 1
    const raw = this.text.slice(start, this.at)

    return escaped ? JSON.parse(raw) as string : raw.slice(1, -1)
  }

  private readNumber (): number | bigint {
    numberToken.lastIndex = this.at
    const token = numberToken.exec(this.text)?.[0]
    if (token === undefined) this.fail('a value')

    this.at += token.length

    return readExactNumber(token)
  }

  private readWord (word: string): boolean {
    if (!this.text.startsWith(word, this.at)) return false

    this.at += word.length

    return true
  }

  private readSeparator (char: string): boolean {
    this.skipWhitespace()
    if (this.text[this.at] !== char) return false

    this.at++

    return true
  }

  private expectSeparator (char: string): void {
    if (!this.readSeparator(char)) this.fail(`'${char}'`)
  }

  private skipWhitespace (): void {
    while (whitespace.has(this.text[this.at] ?? '')) this.at++
  }

  private fail (expected: string): never {
    throw new SyntaxError(`expected ${expected} at position ${this.at}`)
  }
}
