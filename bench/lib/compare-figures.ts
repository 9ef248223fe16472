import type { BacklogFigures } from './backlog-drain.js'
import type { ClosedLoopResult } from './closed-loop.js'
import { median } from './latency-stats.js'
import type { OpenLoopResult } from './open-loop.js'
import type { ShadowMetricsChange } from './shadow-metrics.js'

/**
 * The figures bench/compare.ts measures, and the pure arithmetic that turns
 * them into medians and target verdicts. No I/O here: the harness measures,
 * compare-report.ts prints.
 */

/** Measured with a closed loop and at the fixed rate, every round. */
export type TargetName = 'direct' | 'nginxProxy' | 'nginxMirror' | 'shadowramp' | 'shadowrampMirror'
/** A mirroring target at the fixed rate while its shadow upstream misbehaves. */
export type FaultName = 'nginxSlow' | 'nginxRefused' | 'shadowrampSlow' | 'shadowrampRefused'
export type PhaseName = TargetName | FaultName

export const targetNames: TargetName[] = ['direct', 'nginxProxy', 'nginxMirror', 'shadowramp', 'shadowrampMirror']
export const faultNames: FaultName[] = ['nginxSlow', 'nginxRefused', 'shadowrampSlow', 'shadowrampRefused']

/** CPU ms of each process over a phase (null where /proc could not tell), and the target's own share. */
export interface PhaseCpu {
  byProcess: Record<string, number | null>
  /** The target's own processes: nginx's master and worker, the gateway, or the upstream for direct. */
  ownMs: number | null
}

export interface ClosedFigures {
  result: ClosedLoopResult
  cpu: PhaseCpu
  /** The gateway's shadow counters over the phase; shadowramp targets only. */
  shadow?: ShadowMetricsChange
  worker?: WorkerCatchUp
}

export interface FixedFigures {
  result: OpenLoopResult
  cpu: PhaseCpu
  shadow?: ShadowMetricsChange
  /** Most connections open at once from the target to its shadow upstream (read every 250 ms). */
  shadowConnectionsPeak?: number
  worker?: WorkerCatchUp
}

/** After a phase of the mirroring gateway, until its diff worker had judged every queued pair. */
export interface WorkerCatchUp {
  waitedMs: number
  caughtUp: boolean
}

export interface PhaseFigures {
  closed?: ClosedFigures
  fixed: FixedFigures
}

export interface Round {
  round: number
  order: PhaseName[]
  phases: Partial<Record<PhaseName, PhaseFigures>>
}

export interface DrainRound {
  round: number
  one: BacklogFigures
  two: BacklogFigures
}

/** Medians across rounds of one phase's figures; totals where it says so. */
export interface PhaseMedians {
  closedRequestsPerSecond: number
  closedP99Ms: number
  closedCpuUsPerRequest: number
  fixedP50Ms: number
  fixedP99Ms: number
  fixedMaxMs: number
  fixedAchievedRate: number
  fixedSendLagP99Ms: number
  fixedCpuUsPerRequest: number
  /** Totals over all rounds: failed, unfinished and non-2xx answers, and (shadowramp) fallbacks. */
  liveErrors: number
  shadowConnectionsPeak: number
  shadow: ShadowTotals | undefined
}

/** The gateway's shadow counters, added up over every phase of every round. */
export interface ShadowTotals {
  liveRequests: number
  captured: number
  enqueued: number
  skippedByReason: Record<string, number>
  droppedByReason: Record<string, number>
  shadowErrorsByKind: Record<string, number>
  /**
   * Live requests that were neither skipped (counted by reason) nor
   * captured as a pair nor dropped before capture (counted by reason).
   */
  unaccounted: number
}

export interface Verdict {
  check: string
  shadowramp: string
  nginx: string
  ratio: string
  target: string
  /** PASS, FAIL, or – for a figure shown for reference only. */
  result: 'PASS' | 'FAIL' | '–'
  perRound: string
}

export interface Limits {
  mirrorThroughputFloor: number
  plainThroughputFloor: number
  addedP99Ms: number
  faultP99Ratio: number
  cpuRatio: number
  maxInFlight: number
}

export const limits: Limits = {
  mirrorThroughputFloor: 1,
  plainThroughputFloor: 0.5,
  addedP99Ms: 3,
  faultP99Ratio: 1.1,
  cpuRatio: 3,
  maxInFlight: 64
}

export function usPerRequest (cpuMs: number | null | undefined, requests: number): number {
  if (cpuMs === null || cpuMs === undefined || requests === 0) return Number.NaN

  return (cpuMs * 1_000) / requests
}

export function summarizeRounds (rounds: Round[]): Record<PhaseName, PhaseMedians> {
  const names: PhaseName[] = [...targetNames, ...faultNames]
  const entries = names.map((name) => {
    const phases = rounds.flatMap((round) => round.phases[name] ?? [])
    return [name, summarizePhase(phases)] as const
  })

  return Object.fromEntries(entries) as Record<PhaseName, PhaseMedians>
}

function summarizePhase (phases: PhaseFigures[]): PhaseMedians {
  const closed = phases.flatMap((phase) => phase.closed ?? [])
  const fixed = phases.map((phase) => phase.fixed)
  const closedOf = (pick: (figures: ClosedFigures) => number): number => median(closed.map(pick))
  const fixedOf = (pick: (figures: FixedFigures) => number): number => median(fixed.map(pick))
  const shadows = [...closed, ...fixed].flatMap((figures) => figures.shadow ?? [])

  return {
    closedRequestsPerSecond: closedOf((each) => each.result.requestsPerSecond),
    closedP99Ms: closedOf((each) => each.result.p99Ms),
    closedCpuUsPerRequest: closedOf(closedCpuUs),
    fixedP50Ms: fixedOf((each) => each.result.p50Ms),
    fixedP99Ms: fixedOf((each) => each.result.p99Ms),
    fixedMaxMs: fixed.length === 0 ? Number.NaN : Math.max(...fixed.map((each) => each.result.maxMs)),
    fixedAchievedRate: fixedOf((each) => each.result.achievedRate),
    fixedSendLagP99Ms: fixedOf((each) => each.result.sendLagP99Ms),
    fixedCpuUsPerRequest: fixedOf((each) => usPerRequest(each.cpu.ownMs, each.result.completed)),
    liveErrors: countLiveErrors(closed, fixed),
    shadowConnectionsPeak: Math.max(0, ...fixed.map((each) => each.shadowConnectionsPeak ?? 0)),
    shadow: shadows.length === 0 ? undefined : addShadowTotals(shadows)
  }
}

export function closedCpuUs (figures: ClosedFigures): number {
  return usPerRequest(figures.cpu.ownMs, figures.result.responses)
}

function countLiveErrors (closed: ClosedFigures[], fixed: FixedFigures[]): number {
  const closedErrors = closed.reduce((sum, { result }) =>
    sum + result.errors + result.timeouts + result.non2xx, 0)
  const fixedErrors = fixed.reduce((sum, { result }) =>
    sum + result.errors + result.unfinished + result.non2xx, 0)
  const shadows = [...closed, ...fixed].flatMap((figures) => figures.shadow ?? [])
  const fallbacks = shadows.reduce((sum, shadow) => sum + shadow.fallbacks, 0)

  return closedErrors + fixedErrors + fallbacks
}

/** Drop reasons that end a pair before it is captured; the others come after capture. */
const beforeCapture = new Set(['live-fell-back', 'live-incomplete'])

function addShadowTotals (changes: ShadowMetricsChange[]): ShadowTotals {
  const totals: ShadowTotals = {
    liveRequests: 0,
    captured: 0,
    enqueued: 0,
    skippedByReason: {},
    droppedByReason: {},
    shadowErrorsByKind: {},
    unaccounted: 0
  }
  for (const change of changes) addShadowChange(totals, change)

  return totals
}

function addShadowChange (totals: ShadowTotals, change: ShadowMetricsChange): void {
  const live = sumValues(change.requestsByServedBy)
  const skipped = sumValues(change.skippedByReason)
  const droppedEarly = Object.entries(change.droppedByReason)
    .filter(([reason]) => beforeCapture.has(reason))
    .reduce((sum, [, value]) => sum + value, 0)
  totals.liveRequests += live
  totals.captured += change.captured
  totals.enqueued += change.enqueued
  totals.unaccounted += live - skipped - change.captured - droppedEarly
  addInto(totals.skippedByReason, change.skippedByReason)
  addInto(totals.droppedByReason, change.droppedByReason)
  addInto(totals.shadowErrorsByKind, change.shadowErrorsByKind)
}

export function sumValues (totals: Record<string, number>): number {
  return Object.values(totals).reduce((sum, value) => sum + value, 0)
}

function addInto (into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value
}

/** A figure of two phases in the same round, divided or subtracted, for every round. */
export function perRound (
  rounds: Round[], a: PhaseName, b: PhaseName,
  pick: (figures: PhaseFigures) => number, combine: (a: number, b: number) => number
): number[] {
  return rounds.map((round) => {
    const first = round.phases[a]
    const second = round.phases[b]
    if (first === undefined || second === undefined) return Number.NaN
    return combine(pick(first), pick(second))
  })
}

export const divide = (a: number, b: number): number => a / b
export const subtract = (a: number, b: number): number => a - b

export const closedRate = (figures: PhaseFigures): number =>
  figures.closed?.result.requestsPerSecond ?? Number.NaN
export const fixedP99 = (figures: PhaseFigures): number => figures.fixed.result.p99Ms
export const closedCpu = (figures: PhaseFigures): number =>
  figures.closed === undefined ? Number.NaN : closedCpuUs(figures.closed)
