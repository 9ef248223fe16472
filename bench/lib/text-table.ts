/**
 * Lays rows out in columns for a terminal: the first column left-aligned
 * (labels), the others right-aligned (figures), two spaces apart.
 */
export function formatTable (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, column) => { widths[column] = Math.max(widths[column] ?? 0, cell.length) })
  }

  const layOut = (row: string[]): string => row.map((cell, column) => {
    const width = widths[column] ?? 0
    return column === 0 ? cell.padEnd(width) : cell.padStart(width)
  }).join('  ').trimEnd()

  return rows.map(layOut).join('\n')
}

/** A figure with a fixed number of decimals and thousands separators. */
export function formatNumber (value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return 'n/a'

  const digits = { minimumFractionDigits: decimals, maximumFractionDigits: decimals }

  return value.toLocaleString('en-US', digits)
}

export function formatSigned (value: number, decimals = 2): string {
  if (!Number.isFinite(value)) return 'n/a'

  return `${value >= 0 ? '+' : '-'}${formatNumber(Math.abs(value), decimals)}`
}
