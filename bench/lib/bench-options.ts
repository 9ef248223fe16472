/**
 * Reads a benchmark's settings from its command line; on a bad option it
 * says what was wrong and how to call the benchmark, and exits with 2.
 */
export function settingsOrExit<T> (read: () => T, usage: string): T {
  try {
    return read()
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n${usage}\n`)
    process.exit(2)
  }
}

/**
 * A whole-number option within bounds, so that no typo turns into an hour
 * of load or gigabytes in Redis.
 */
export function readWhole (name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback

  // Digits only: Number() would also take 0x10, 1e1 and " 5 ".
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} expects a whole number from ${min} to ${max}, found ${text}`)
  }

  return value
}

/** The options every load benchmark takes, for parseArgs; each adds its own. */
export const loadOptions = {
  quick: { type: 'boolean', default: false },
  rounds: { type: 'string' },
  seconds: { type: 'string' },
  rate: { type: 'string' }
} as const
