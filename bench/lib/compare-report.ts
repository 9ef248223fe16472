import {
  closedCpu, closedRate, divide, fixedP99, limits, perRound, subtract,
  type DrainRound, type FaultName, type PhaseMedians, type PhaseName, type Round, type Verdict
} from './compare-figures.js'
import { median } from './latency-stats.js'
import { formatNumber, formatSigned, formatTable } from './text-table.js'

/**
 * The verdicts of bench/compare.ts and the one table that shows them. Every
 * comparison is judged on the median of its per-round figures: both sides
 * of a comparison are measured within a minute of each other in a round,
 * so a machine that others slow down for a while moves both alike.
 */

export interface ComparisonInput {
  rounds: Round[]
  medians: Record<PhaseName, PhaseMedians>
  drains: DrainRound[]
  rate: number
}

export interface ReportHeading {
  nginxVersion: string
  rounds: number
  connections: number
  closedSeconds: number
  openSeconds: number
  rate: number
  nginxMirrorSaturated: number
  bytes: number
  cores: number
  loadAverage: { start: number, end: number }
}

type Kind = 'Slow' | 'Refused'

/** A send lag p99 above this means the generator waited for a core; an arbitrary threshold. */
const lateSendMs = 5
/** A 1-minute load average above this before the run means others were using the cores; arbitrary too. */
const busyLoad = 1

const faultLabels: Record<Kind, string> = {
  Slow: 'shadow slow',
  Refused: 'shadow refused'
}

export function judgeComparison (input: ComparisonInput): Verdict[] {
  return [
    judgeThroughput(input, 'shadowrampMirror', 'nginxMirror', limits.mirrorThroughputFloor),
    judgeThroughput(input, 'shadowramp', 'nginxProxy', limits.plainThroughputFloor),
    judgeAddedP99(input, 'shadowramp'),
    judgeAddedP99(input, 'shadowrampMirror'),
    describeLatency(input, 'shadowramp', 'nginxProxy'),
    describeLatency(input, 'shadowrampMirror', 'nginxMirror'),
    ...judgeFault(input, 'Slow'),
    ...judgeFault(input, 'Refused'),
    judgeCpu(input, 'shadowramp', 'nginxProxy'),
    judgeCpu(input, 'shadowrampMirror', 'nginxMirror'),
    ...describeDrains(input.drains)
  ]
}

const phaseLabels: Record<PhaseName, string> = {
  direct: 'upstream directly',
  nginxProxy: 'nginx proxy_pass',
  nginxMirror: 'nginx mirror',
  shadowramp: 'no mirror',
  shadowrampMirror: 'mirror+queue',
  nginxSlow: 'nginx mirror, shadow slow',
  nginxRefused: 'nginx mirror, shadow refusing',
  shadowrampSlow: 'mirror, shadow slow',
  shadowrampRefused: 'mirror, shadow refusing'
}

function judgeThroughput (input: ComparisonInput, ours: PhaseName, theirs: PhaseName, floor: number): Verdict {
  const ratios = perRound(input.rounds, ours, theirs, closedRate, divide)
  const ratio = median(ratios)

  return {
    check: `req/s closed loop: ${phaseLabels[ours]} vs ${phaseLabels[theirs]}`,
    shadowramp: whole(input.medians[ours].closedRequestsPerSecond),
    nginx: whole(input.medians[theirs].closedRequestsPerSecond),
    ratio: times(ratio),
    target: `≥ ${times(floor)}`,
    result: passOrFail(ratio >= floor),
    perRound: ratios.map(times).join(' ')
  }
}

function judgeAddedP99 (input: ComparisonInput, ours: PhaseName): Verdict {
  const added = perRound(input.rounds, ours, 'nginxProxy', fixedP99, subtract)
  const difference = median(added)
  const errors = input.medians[ours].liveErrors
  const pass = difference <= limits.addedP99Ms && errors === 0

  return {
    check: `p99 ms at ${whole(input.rate)} req/s: ${phaseLabels[ours]} vs nginx proxy_pass`,
    shadowramp: `${ms(input.medians[ours].fixedP99Ms)}${errorNote(errors)}`,
    nginx: ms(input.medians.nginxProxy.fixedP99Ms),
    ratio: `${formatSigned(difference)} ms`,
    target: `≤ +${limits.addedP99Ms} ms, 0 errors`,
    result: passOrFail(pass),
    perRound: added.map((value) => formatSigned(value)).join(' ')
  }
}

/** p50 and max beside the judged p99, for reference. */
function describeLatency (input: ComparisonInput, ours: PhaseName, theirs: PhaseName): Verdict {
  const spread = (m: PhaseMedians): string =>
    `${ms(m.fixedP50Ms)} / ${ms(m.fixedP99Ms)} / ${ms(m.fixedMaxMs)}`
  const ratios = perRound(input.rounds, ours, theirs, fixedP99, subtract)

  return {
    check: `p50/p99/max ms: ${phaseLabels[ours]} vs ${phaseLabels[theirs]}`,
    shadowramp: spread(input.medians[ours]),
    nginx: spread(input.medians[theirs]),
    ratio: `${formatSigned(median(ratios))} ms`,
    target: '',
    result: '–',
    perRound: ratios.map((value) => formatSigned(value)).join(' ')
  }
}

/**
 * A misbehaving shadow against the healthy one, at the same rate in the
 * same round: the live p99, live errors, the cap on shadow requests in
 * flight (connections to the shadow, read from /proc), and whether every
 * live request that was not mirrored is counted in /metrics.
 */
function judgeFault (input: ComparisonInput, kind: Kind): Verdict[] {
  const ours = `shadowramp${kind}` as FaultName
  const theirs = `nginx${kind}` as FaultName

  return [
    judgeFaultLatency(input, kind, ours, theirs),
    judgeFaultErrors(input, kind, ours, theirs),
    judgeInFlightCap(input, kind, ours, theirs),
    judgeCounted(input, kind, ours)
  ]
}

function judgeFaultLatency (input: ComparisonInput, kind: Kind, ours: FaultName, theirs: FaultName): Verdict {
  const ratios = perRound(input.rounds, ours, 'shadowrampMirror', fixedP99, divide)
  const nginxRatio = median(perRound(input.rounds, theirs, 'nginxMirror', fixedP99, divide))
  const ratio = median(ratios)
  const healthy = input.medians.shadowrampMirror.fixedP99Ms

  return {
    check: `${faultLabels[kind]}: live p99 ms vs healthy (${ms(healthy)})`,
    shadowramp: ms(input.medians[ours].fixedP99Ms),
    nginx: `${ms(input.medians[theirs].fixedP99Ms)} (${times(nginxRatio)})`,
    ratio: times(ratio),
    target: `≤ ${times(limits.faultP99Ratio)}`,
    result: passOrFail(ratio <= limits.faultP99Ratio),
    perRound: ratios.map(times).join(' ')
  }
}

function judgeFaultErrors (input: ComparisonInput, kind: Kind, ours: FaultName, theirs: FaultName): Verdict {
  const errors = input.medians[ours].liveErrors

  return {
    check: `${faultLabels[kind]}: live errors`,
    shadowramp: whole(errors),
    nginx: whole(input.medians[theirs].liveErrors),
    ratio: '',
    target: '0',
    result: passOrFail(errors === 0),
    perRound: ''
  }
}

function judgeInFlightCap (input: ComparisonInput, kind: Kind, ours: FaultName, theirs: FaultName): Verdict {
  const peak = input.medians[ours].shadowConnectionsPeak
  const skipped = input.medians[ours].shadow?.skippedByReason ?? {}

  return {
    check: `${faultLabels[kind]}: shadow connections, max (skipped)`,
    shadowramp: `${whole(peak)} (${listTotals(skipped)})`,
    nginx: `${whole(input.medians[theirs].shadowConnectionsPeak)} (no cap)`,
    ratio: '',
    target: `≤ ${limits.maxInFlight}`,
    result: passOrFail(peak <= limits.maxInFlight),
    perRound: ''
  }
}

/** Requests still in flight when the counters are read are the only slack allowed. */
function judgeCounted (input: ComparisonInput, kind: Kind, ours: FaultName): Verdict {
  const shadow = input.medians[ours].shadow
  const unaccounted = shadow?.unaccounted ?? Number.NaN
  const dropped = listTotals(shadow?.droppedByReason ?? {})
  const errors = listTotals(shadow?.shadowErrorsByKind ?? {})

  return {
    check: `${faultLabels[kind]}: live requests not counted`,
    shadowramp: `${whole(unaccounted)} (dropped ${dropped}; shadow errors ${errors})`,
    nginx: 'not counted',
    ratio: '',
    target: `|n| ≤ ${limits.maxInFlight}`,
    result: passOrFail(Math.abs(unaccounted) <= limits.maxInFlight),
    perRound: ''
  }
}

function judgeCpu (input: ComparisonInput, ours: PhaseName, theirs: PhaseName): Verdict {
  const ratios = perRound(input.rounds, ours, theirs, closedCpu, divide)
  const ratio = median(ratios)

  return {
    check: `CPU µs/live request: ${phaseLabels[ours]} vs ${phaseLabels[theirs]}`,
    shadowramp: whole(input.medians[ours].closedCpuUsPerRequest),
    nginx: whole(input.medians[theirs].closedCpuUsPerRequest),
    ratio: times(ratio),
    target: `≤ ${times(limits.cpuRatio)}`,
    result: passOrFail(ratio <= limits.cpuRatio),
    perRound: ratios.map(times).join(' ')
  }
}

function describeDrains (drains: DrainRound[]): Verdict[] {
  if (drains.length === 0) return []

  const one = drains.map((drain) => drain.one.pairsPerSecond)
  const two = drains.map((drain) => drain.two.pairsPerSecond)
  const scaling = drains.map((drain) => drain.two.pairsPerSecond / drain.one.pairsPerSecond)
  const row = (check: string, value: string, ratio: string, rounds: string): Verdict =>
    ({ check, shadowramp: value, nginx: '', ratio, target: '', result: '–', perRound: rounds })

  return [
    row('diff worker pairs/s: 1 process', whole(median(one)), '', one.map(whole).join(' ')),
    row('diff worker pairs/s: 2 processes', whole(median(two)),
      `${times(median(scaling))} of 1`, scaling.map(times).join(' '))
  ]
}

export function printComparison (
  heading: ReportHeading, medians: Record<PhaseName, PhaseMedians>, verdicts: Verdict[]
): void {
  const header = ['', 'shadowramp', heading.nginxVersion, 'ratio/diff', 'target', 'result', 'per round']
  const rows = verdicts.map((verdict) => [
    verdict.check, verdict.shadowramp, verdict.nginx, verdict.ratio, verdict.target, verdict.result, verdict.perRound
  ])
  const failed = verdicts.filter((verdict) => verdict.result === 'FAIL').length
  const judged = verdicts.filter((verdict) => verdict.result !== '–').length
  const lines = [
    '', ...describeHeading(heading, medians), '', formatTable([header, ...rows]), '',
    `${judged - failed} of ${judged} checks passed`, ...describeCaveats(heading, medians)
  ]

  process.stdout.write(`${lines.join('\n')}\n`)
}

function describeHeading (heading: ReportHeading, medians: Record<PhaseName, PhaseMedians>): string[] {
  const direct = medians.direct
  const { start, end } = heading.loadAverage

  return [
    `shadowramp against ${heading.nginxVersion}, median of ${heading.rounds} rounds, one core each: ` +
      'nginx worker_processes 1 (master + 1 worker), one shadowramp gateway process',
    `closed loop ${heading.connections} connections × ${heading.closedSeconds} s; fixed rate ` +
      `${whole(heading.rate)} req/s × ${heading.openSeconds} s (half of nginx mirror's ` +
      `${whole(heading.nginxMirrorSaturated)} req/s at warm-up), latency from the scheduled send time; ` +
      `${whole(heading.bytes)} B answers`,
    `upstream directly: ${whole(direct.closedRequestsPerSecond)} req/s closed loop, p50 / p99 / max ` +
      `${ms(direct.fixedP50Ms)} / ${ms(direct.fixedP99Ms)} / ${ms(direct.fixedMaxMs)} ms at the fixed rate`,
    `${heading.cores} cores shared by the load generator, upstreams, nginx or gateway, Redis and a diff ` +
      'worker at nice 19; 1-minute load average ' +
      `${formatNumber(start, 2)} before the run, ${formatNumber(end, 2)} at its end`,
    'mirror+queue: shadowramp mirroring and queueing every request; shadow slow: 200 ms; live errors: ' +
      'failed, unfinished, non-2xx, fallbacks; shadow connections: established, read from /proc'
  ]
}

/** What makes figures of this run say less than they seem to, found in the figures themselves. */
function describeCaveats (heading: ReportHeading, medians: Record<PhaseName, PhaseMedians>): string[] {
  const caveats: string[] = []
  const saturated = (Object.keys(medians) as PhaseName[])
    .filter((name) => medians[name].closedRequestsPerSecond < heading.rate)
    .map((name) => `${phaseLabels[name]} (${whole(medians[name].closedRequestsPerSecond)} req/s)`)
  if (saturated.length > 0) {
    caveats.push('past saturation at the fixed rate, so its fixed-rate figures measure a growing queue: ' +
      saturated.join(', '))
  }

  const lags = Object.values(medians).map((m) => m.fixedSendLagP99Ms).filter(Number.isFinite)
  const lag = Math.max(0, ...lags)
  if (lag > lateSendMs) {
    caveats.push(`the load generator itself sent up to ${ms(lag)} ms late (p99): it waited for a core, ` +
      'and the latency tails include that wait')
  }
  if (heading.loadAverage.start > busyLoad) {
    const load = formatNumber(heading.loadAverage.start, 2)
    caveats.push(`the machine was busy before the run (load average ${load}): ` +
      'absolute figures are lower and rounds disagree more than on a quiet machine')
  }

  return caveats.map((caveat) => `note: ${caveat}`)
}

function passOrFail (pass: boolean): 'PASS' | 'FAIL' {
  return pass ? 'PASS' : 'FAIL'
}

function errorNote (errors: number): string {
  return errors === 0 ? '' : ` (${whole(errors)} errors)`
}

function whole (value: number): string {
  return formatNumber(value)
}

function ms (value: number): string {
  return formatNumber(value, 2)
}

function times (value: number): string {
  return Number.isFinite(value) ? `×${formatNumber(value, 2)}` : 'n/a'
}

export function listTotals (totals: Record<string, number>): string {
  const parts = Object.entries(totals)
    .filter(([, value]) => value !== 0)
    .map(([key, value]) => `${key} ${formatNumber(value)}`)

  return parts.length === 0 ? 'none' : parts.join(', ')
}

