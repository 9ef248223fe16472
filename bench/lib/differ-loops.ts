/**
 * The in-process side of the worker benchmark: tight loops over the same
 * pairs, on this thread, with no queue and no Redis. judgePair is what a
 * worker runs per pair; the others show what parsing costs, what a plain
 * differ costs (deep-diff, which comparePair builds on, and microdiff),
 * and what comparePair's normalization adds.
 */
import deepDiff from 'deep-diff'
import microdiff from 'microdiff'
import { compareSchema } from '../../src/config/compare-schema.js'
import { comparePair } from '../../src/diff/compare.js'
import type { ResponseSample } from '../../src/diff/decode.js'
import { compileRules } from '../../src/diff/rules.js'
import type { Pair } from '../../src/shadow/pair.js'
import { judgePair, type RouteJudgement } from '../../src/worker/pair-judge.js'
import { makeFeedPair, type FeedPairBodies } from './feed-pairs.js'
import { watchGc } from './gc-watch.js'
import { runTimedLoop, type TimedLoopResult } from './timed-loop.js'

export type LoopName = 'parse' | 'deepDiff' | 'microdiff' | 'comparePair' | 'judgePair'

export interface DifferLoop {
  name: LoopName
  label: string
  /** Differences found in one pair, so a loop that stopped comparing shows. */
  work: (pair: PreparedPair) => number
  /** What `work` returns for every pair of the feed: it differs in five fields. */
  differencesPerPair: number
}

/** One pair in every shape the loops start from. */
export interface PreparedPair {
  pair: Pair
  baseline: ResponseSample
  candidate: ResponseSample
}

export interface LoopFigures extends TimedLoopResult {
  /** Garbage collection pauses during the loop, by kind. */
  gcMsByKind: Record<string, number>
}

export const loopNames: readonly LoopName[] =
  ['parse', 'deepDiff', 'microdiff', 'comparePair', 'judgePair']

export function preparePairs (
  bodies: readonly FeedPairBodies[], route: string, capturedAt: number
): PreparedPair[] {
  return bodies.map((pairBodies, index) => {
    const pair = makeFeedPair(pairBodies, `loop-${index}`, route, capturedAt)
    return { pair, baseline: pair.baseline, candidate: pair.candidate }
  })
}

/**
 * The route's rules are the defaults and its noise model is empty, as
 * for a route without a `compare:` section before any repeat was taken.
 */
export function createDifferLoops (): DifferLoop[] {
  const rules = compileRules(compareSchema.parse({}))
  const judgement: RouteJudgement = { rules, noise: { samples: 0, paths: {} } }
  const parseBoth = ({ pair }: PreparedPair): [object, object] =>
    [parseJson(pair.baseline.body), parseJson(pair.candidate.body)]

  return [
    {
      name: 'parse',
      label: 'JSON.parse of both bodies only',
      work: (pair) => { parseBoth(pair); return 0 },
      differencesPerPair: 0
    },
    {
      name: 'deepDiff',
      label: 'JSON.parse + deep-diff diff',
      work: (pair) => deepDiff.diff(...parseBoth(pair))?.length ?? 0,
      differencesPerPair: 5
    },
    {
      name: 'microdiff',
      label: 'JSON.parse + microdiff',
      work: (pair) => microdiff(...parseBoth(pair)).length,
      differencesPerPair: 5
    },
    {
      name: 'comparePair',
      label: 'comparePair',
      work: ({ baseline, candidate }) => countDifferences(comparePair(baseline, candidate, rules)),
      differencesPerPair: 5
    },
    {
      name: 'judgePair',
      label: 'judgePair (reference)',
      work: ({ pair }) => judgePair(pair, judgement).record.differences.length,
      differencesPerPair: 5
    }
  ]
}

/** Runs a loop for about `durationMs` and checks that every pair showed its five differences. */
export async function measureDifferLoop (
  loop: DifferLoop, pairs: readonly PreparedPair[], durationMs: number
): Promise<LoopFigures> {
  const expected = loop.differencesPerPair
  const gc = watchGc()
  const result = runTimedLoop(pairs, loop.work, durationMs, (sum, iterations) => {
    if (sum === expected * iterations) return
    throw new Error(`${loop.label} found ${sum / iterations} differences per pair, expected ${expected}`)
  })

  return { ...result, gcMsByKind: await gc.stop() }
}

function parseJson (body: Buffer | undefined): object {
  return JSON.parse(body?.toString('utf8') ?? 'null') as object
}

/** A verdict other than diverging would mean the pairs are not what this benchmark says. */
function countDifferences (verdict: ReturnType<typeof comparePair>): number {
  return verdict.kind === 'diverging' ? verdict.differences.length : Number.NaN
}
