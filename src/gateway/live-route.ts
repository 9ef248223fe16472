import type { RouteConfig } from '../config/schema.js'
import { createStickyKeyReader, type StickyKeyReader } from './backend-choice.js'
import { LastGoodCache, StaticFallback } from './fallback-content.js'
import { Upstream } from './upstream.js'

/** Everything the live path needs for one route, built once at start-up. */
export interface LiveRoute {
  name: string
  config: RouteConfig
  baseline: Upstream
  candidate: Upstream
  readStickyKey: StickyKeyReader
  /** Backends tried, in order, when the candidate serves first. */
  fromCandidate: readonly Upstream[]
  /** Backends tried, in order, when the baseline serves first. */
  fromBaseline: readonly Upstream[]
  failingStatuses: ReadonlySet<number>
  lastGood: LastGoodCache | undefined
  staticFallback: StaticFallback | undefined
}

export function createLiveRoute (config: RouteConfig): LiveRoute {
  const baseline = new Upstream('baseline', config.baseline)
  const candidate = new Upstream('candidate', config.candidate)
  const { lastGood, static: staticConfig } = config.fallback

  return {
    name: config.name,
    config,
    baseline,
    candidate,
    readStickyKey: createStickyKeyReader(config.stickyKey),
    fromCandidate: [candidate, baseline],
    fromBaseline: [baseline],
    failingStatuses: new Set(config.failOnStatus),
    lastGood: lastGood === undefined ? undefined : new LastGoodCache(lastGood),
    staticFallback: staticConfig === undefined ? undefined : new StaticFallback(staticConfig)
  }
}

export async function closeLiveRoute (route: LiveRoute): Promise<void> {
  await Promise.all([route.baseline.close(), route.candidate.close()])
}
