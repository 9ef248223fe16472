import type { RouteReport } from './route-report.js'

/** Lines listed per section before "… and N more". */
const listed = 10

/** A route's report as text for a terminal. */
export function formatRouteReport (report: RouteReport, sinceLabel: string): string {
  const lines: string[] = []
  const push = (line = ''): void => { lines.push(line) }
  const rate = report.divergenceRate === null ? 'no pairs compared in this window' : `${percent(report.divergenceRate)} (${count(report.diverging + report.statusMismatch)} of ${count(report.compared)} compared)`

  push(`${report.route} — last ${sinceLabel}`)
  push(`  divergence   ${rate}`)
  push(`  pairs        ${count(report.pairs)}: identical ${count(report.identical)} · diverging ${count(report.diverging)} · status mismatch ${count(report.statusMismatch)} · noise only ${count(report.noiseOnly)} · not comparable ${count(report.notComparable)}`)
  if (report.withIgnored > 0) push(`               ${count(report.withIgnored)} pairs had differences ignored by rules`)
  section(lines, 'diverging fields', report.paths.map((entry) => `${pad(count(entry.count))}  ${entry.kind.padEnd(18)} ${entry.path === '' ? '(whole body)' : entry.path}`))
  section(lines, 'status mismatches (baseline → candidate)', report.statuses.map((entry) => `${pad(count(entry.count))}  ${entry.baseline} → ${entry.candidate}`))
  section(lines, 'not comparable', report.reasons.map((entry) => `${pad(count(entry.count))}  ${entry.reason}`))
  section(lines, 'noise kept out of the divergence', report.noisePaths.map((entry) => `${pad(count(entry.count))}  ${entry.path}`))
  section(lines, `noise learned (${count(report.noise.samples)} repeated baseline answers)`,
    report.noise.paths.map((entry) => `${pad(count(Math.max(entry.value, entry.presence)))}  ${entry.path}`))
  section(lines, 'suggested ignore rules', report.suggestions.map((entry) => `${entry.rule}: ${entry.pattern}${entry.decision === undefined ? '' : `  (${entry.decision})`}`))
  section(lines, 'ignored by rules', report.ignoredPaths.map((entry) => `${pad(count(entry.count))}  ${entry.path}`))
  section(lines, 'shadow backed off', report.backedOff.map((guard) => `${guard.gateway}: ${percent(guard.factor)} of the sample rate since ${new Date(guard.since).toISOString()}: ${guard.reason}`))
  const { baseline, candidate } = report.latency
  push(`  latency      baseline p50 ${ms(baseline.p50Ms)} p99 ${ms(baseline.p99Ms)} · candidate p50 ${ms(candidate.p50Ms)} p99 ${ms(candidate.p99Ms)} (bucket bounds)`)

  return lines.join('\n')
}

function section (lines: string[], title: string, entries: string[]): void {
  if (entries.length === 0) return

  lines.push(`  ${title}`)
  for (const entry of entries.slice(0, listed)) lines.push(`    ${entry}`)
  if (entries.length > listed) lines.push(`    … and ${entries.length - listed} more`)
}

function percent (share: number): string {
  return `${(share * 100).toFixed(2)}%`
}

function count (value: number): string {
  return value.toLocaleString('en-US')
}

function pad (text: string): string {
  return text.padStart(7)
}

function ms (value: number | undefined): string {
  return value === undefined ? '-' : `≤${value} ms`
}
