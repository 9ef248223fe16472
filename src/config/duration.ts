const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Reads `90s`, `10m`, `1h`, `2d` as milliseconds; undefined when it is not one. */
export function parseDuration (text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (match === null) return undefined

  return Number(match[1]) * (units[match[2] as string] as number)
}
