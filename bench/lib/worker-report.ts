/**
 * The worker benchmark's figures for people: one table of pairs per
 * second with the verdicts, then the notes that explain them.
 */
import type { BacklogFigures } from './backlog-drain.js'
import { createDifferLoops, loopNames, type LoopFigures, type LoopName } from './differ-loops.js'
import type { FlatRule, SteadyFigures } from './steady-offer.js'
import { formatNumber, formatSigned, formatTable } from './text-table.js'
import type { ProfileSummary } from './worker-profile.js'

export interface Round {
  round: number
  /** What ran in which order: loops and workers, then the loops' own order. */
  order: string[]
  loops: Record<LoopName, LoopFigures>
  one: BacklogFigures
  two: BacklogFigures | undefined
}

/** Medians across rounds, and the ratios the verdict is read from. */
export interface Summary {
  /** Pairs per second. */
  loops: Record<LoopName, number>
  one: number
  two: number | undefined
  /** One worker ÷ judgePair: the median of the per-round ratios. */
  oneRatio: number
  oneRatioPerRound: number[]
  oneWorkerCpuUsPerPair: number
  oneRedisCpuUsPerPair: number
  oneJudgeUsPerPair: number
  /** Main thread per pair: judgePair in process, and one worker (see BacklogFigures). */
  judgePairMainThread: { running: number, waitingForCore: number }
  oneMainThread: BacklogFigures['mainThreadUsPerPair']
  /**
   * The ratio with the time each spent waiting for a core taken out:
   * judgePair's running time ÷ the worker's running plus blocked time.
   */
  oneRatioOwnCore: number
  /** Garbage collection pauses per pair: judgePair in process, one worker over its life. */
  gcUsPerPair: { judgePair: number, oneWorker: number }
  /** Share of the time judgePair's loop and one draining worker waited for a core. */
  waitShares: { judgePair: number, oneWorker: number }
  /**
   * The ratio the verdict reads: by the wall clock, unless either side
   * waited for a core more than the busy share of the time; then without
   * that waiting, since the wall clock measured the machine's other load.
   */
  verdictRatio: number
  verdictBasis: 'wall clock' | 'without waiting for a core'
  pass: boolean
}

export interface Profiled {
  figures: BacklogFigures
  summary: ProfileSummary
}

export interface WorkerReport {
  rounds: Round[]
  summary: Summary
  steady: SteadyFigures
  profiled: Profiled | undefined
  /** What the table's heading says about the pairs. */
  variants: number
  backlogPairs: number
  pairBytes: { baseline: number, candidate: number }
  twoWorkersSkipped: boolean
  targetRatio: number
  flatRule: FlatRule
  /** Waiting for a core longer than this share of the time marks a busy machine. */
  busyWaitShare: number
}

export function printWorkerReport (report: WorkerReport): void {
  const rows = [...throughputRows(report), ...steadyRows(report.steady, report.busyWaitShare)]

  process.stdout.write(`\n${describeHeading(report)}\n\n${formatTable(rows)}\n\n`)
  process.stdout.write(`${describeNotes(report).join('\n')}\n`)
  if (report.profiled !== undefined) printProfile(report.profiled)
}

function describeHeading (report: WorkerReport): string {
  const { baseline, candidate } = report.pairBytes
  const rounds = `median of ${report.rounds.length} rounds`
  const pairs = `${report.variants} distinct pairs (${formatNumber(baseline)} B against ` +
    `${formatNumber(candidate)} B, 5 differences each)`

  return `worker throughput, ${rounds}: ${pairs}; backlogs of ${formatNumber(report.backlogPairs)} ` +
    'pairs in batches of 64'
}

function throughputRows (report: WorkerReport): string[][] {
  const { summary, targetRatio } = report
  const reference = summary.loops.judgePair
  const row = (label: string, perSecond: number, verdict = ''): string[] => {
    const ratio = `×${formatNumber(perSecond / reference, 2)}`
    return [label, formatNumber(perSecond), formatNumber(1e6 / perSecond), ratio, verdict]
  }
  const labels = Object.fromEntries(createDifferLoops().map((loop) => [loop.name, loop.label]))
  const comparison = summary.pass ? '≥' : '<'
  const ratio = `×${formatNumber(summary.verdictRatio, 2)} ${comparison} ×${formatNumber(targetRatio, 2)}`
  const busy = summary.verdictBasis !== 'wall clock'
  const basis = busy ? ' without waiting for a core (busy machine)' : ''
  const target = `${summary.pass ? 'PASS' : 'FAIL'}: ${ratio}${basis}`
  const rows = [
    ['', 'pairs/s', 'µs/pair', 'vs judgePair', 'verdict'],
    ['in process, one thread, no queue', '', '', '', ''],
    ...loopNames.map((name) => row(`  ${labels[name] ?? name}`, summary.loops[name])),
    ['worker processes draining a backlog', '', '', '', ''],
    row('  one worker process', summary.one, target)
  ]
  if (summary.two !== undefined) rows.push(row('  two worker processes', summary.two))
  if (report.twoWorkersSkipped) rows.push(['  two workers', 'skipped', '', '', ''])

  return rows
}

function steadyRows (steady: SteadyFigures, busyWaitShare: number): string[][] {
  const { depth, offer } = steady
  const seconds = formatNumber(offer.elapsedMs / 1_000)
  const trend = `trend ${formatSigned(depth.slopePerSecond, 2)}/s`
  const shape = `depth ${depth.start} → max ${depth.max} → ${depth.end} batches, ${trend}`
  const busy = steady.workerMainThread.waitingForCore > busyWaitShare ? '; busy machine' : ''
  const verdict = `${depth.flat ? 'PASS' : 'FAIL'}: queue flat (${shape}${busy})`

  return [
    ['one worker, pairs offered at half its capacity', '', '', '', ''],
    [`  ${seconds} s at a fixed rate`, formatNumber(offer.achievedRate), '', '', verdict]
  ]
}

function describeNotes (report: WorkerReport): string[] {
  return [
    describeRatios(report.summary),
    ...describeWorkerTime(report.summary),
    ...describeSteadyState(report),
    ...describeBusyMachine(report),
    describeWorkerLogs(report)
  ]
}

function describeRatios (summary: Summary): string {
  const perRound = summary.oneRatioPerRound.map((ratio) => formatNumber(ratio, 2)).join(', ')
  const ownCore = `×${formatNumber(summary.oneRatioOwnCore, 2)}`

  const ofMedians = `×${formatNumber(summary.one / summary.loops.judgePair, 2)}`

  return `one worker ÷ judgePair, per round: ${perRound} (median ×${formatNumber(summary.oneRatio, 2)}, ` +
    `the verdict's; ratio of the medians ${ofMedians}); with waiting for a core taken out: ${ownCore}`
}

/** Where one worker's time per pair goes, next to the same pair judged in process. */
function describeWorkerTime (summary: Summary): string[] {
  const worker = summary.oneMainThread
  const judge = summary.judgePairMainThread

  return [
    `one worker's main thread per pair: ${us(worker.running)} running, ` +
      `${us(worker.waitingForCore)} waiting for a core, ` +
      `${us(worker.blocked)} waiting for Redis or idle; judgePair in process: ` +
      `${us(judge.running)} running, ${us(judge.waitingForCore)} waiting for a core`,
    `one worker per pair: ${us(summary.oneJudgeUsPerPair)} judging (its own histogram, wall time); ` +
      `process CPU ${us(summary.oneWorkerCpuUsPerPair)} (every thread, GC helpers included); ` +
      `Redis CPU ${us(summary.oneRedisCpuUsPerPair)} (with whatever else uses it)`,
    `garbage collection pauses per pair: one worker ${us(summary.gcUsPerPair.oneWorker)}, ` +
      `judgePair in process ${us(summary.gcUsPerPair.judgePair)}`
  ]
}

function describeSteadyState (report: WorkerReport): string[] {
  const { steady, flatRule } = report
  const { depth, offer, cpuShare, workerMainThread } = steady
  const pairsPerBatch = offer.batches === 0 ? Number.NaN : offer.enqueued / offer.batches

  return [
    `steady state: ${formatNumber(offer.offered)} pairs offered in batches of ` +
      `~${formatNumber(pairsPerBatch)}, ${formatNumber(depth.dropped)} dropped, ` +
      `${formatNumber(steady.counted)} counted, the last ${formatNumber(steady.drainMs)} ms ` +
      `after the offer ended; depth read ${steady.samples.length} times, ` +
      `mean ${formatNumber(depth.mean, 2)} batches`,
    `steady state, share of a core: worker ${percent(cpuShare.worker)} (main thread running ` +
      `${percent(workerMainThread.running)}, waiting for a core ` +
      `${percent(workerMainThread.waitingForCore)}); producer (this process) ` +
      `${percent(cpuShare.producer)}; Redis ${percent(cpuShare.redis)}`,
    `flat means: at most ${flatRule.endBatches} batches waiting at the end, a trend (median slope ` +
      `between readings) of at most +${flatRule.slopePerSecond} batch/s, and no pair dropped`
  ]
}

/**
 * Main threads that waited for a core more than a tenth of the time were
 * sharing the machine with something: their rates mix work with waiting.
 */
function describeBusyMachine (report: WorkerReport): string[] {
  const { summary, steady } = report
  const waits: Array<[string, number]> = [
    ['judgePair in process', summary.waitShares.judgePair],
    ['one worker draining', summary.waitShares.oneWorker],
    ['the worker in steady state', steady.workerMainThread.waitingForCore]
  ]
  const busy = waits.filter(([, share]) => share > report.busyWaitShare)
  if (busy.length === 0) return []

  const parts = busy.map(([what, share]) => `${what} ${percent(share)}`).join(', ')
  return [`warning: the machine was busy; main threads waited for a core (${parts} of the time). ` +
    'Rerun on a quiet machine before reading the wall-clock ratios.']
}

/** Every worker should exit with 0 after SIGTERM and log nothing at warn or above. */
function describeWorkerLogs (report: WorkerReport): string {
  const drains = report.rounds.flatMap((round) =>
    round.two === undefined ? [round.one] : [round.one, round.two])
  const exits = [...drains.flatMap((figures) => figures.exitCodes), report.steady.exitCode]
  const unclean = exits.filter((code) => code !== 0)
  const exitNote = unclean.length === 0
    ? `all ${exits.length} workers exited with 0`
    : `${unclean.length} of ${exits.length} workers exited otherwise: ${unclean.join(', ')}`
  const logs = [...drains.map((figures) => figures.logs).flat(), report.steady.log]
  const notable = logs.flatMap((log) => log.notable)
  if (notable.length === 0) return `workers: ${exitNote}; nothing logged at warn or above`

  const lines = notable.map((entry) => `  ${entry.level} ×${entry.count}: ${entry.msg}`)
  return `workers: ${exitNote}; logged:\n${lines.join('\n')}`
}

function printProfile (profiled: Profiled): void {
  const { summary, figures } = profiled
  const line = (entry: { name: string, ms: number, share: number }): string[] =>
    [`  ${entry.name}`, formatNumber(entry.ms), `${formatNumber(entry.share * 100, 1)}%`]
  const rows = [
    ['profiled worker, main thread by step', 'ms', 'share'],
    ...summary.bySteps.map(line),
    ['top functions by self time', '', ''],
    ...summary.topSelf.map(line)
  ]
  const rate = `${formatNumber(figures.pairsPerSecond)} pairs/s under the profiler`
  const times = `${formatNumber(summary.activeMs)} ms busy, ${formatNumber(summary.idleMs)} ms idle`

  const shares = 'shares of busy time, sampled by the wall clock: on a busy machine ' +
    'they include waiting for a core'
  process.stdout.write(`\n${formatTable(rows)}\n(${rate}; ${times}; ${shares})\n`)
  process.stdout.write(`profiles: ${summary.files.join(', ')}\n`)
}

function us (value: number): string {
  return `${formatNumber(value)} µs`
}

function percent (share: number): string {
  return `${formatNumber(share * 100)}%`
}
