import type { RedisClient } from '../store/redis-connection.js'
import { suggestIgnoreRules, type SuggestedIgnoreRule } from '../diff/noise.js'
import { readDivergence, readNoiseModel, type DivergenceReport } from '../store/diff-aggregates.js'
import { readIgnoreRules, type IgnoreRuleDecision } from '../store/ignore-rules.js'
import type { Keys } from '../store/keys.js'
import { readShadowGuards, type ShadowGuardState } from '../store/shadow-guard.js'

/** Everything a person needs to see where a route's candidate diverges. */
export interface RouteReport extends DivergenceReport {
  /** Noise learned from repeated baseline answers, all time. */
  noise: { samples: number, paths: Array<{ path: string, value: number, presence: number }> }
  /** Ignore rules the noise suggests, with a person's decision when there is one. */
  suggestions: Array<SuggestedIgnoreRule & { decision?: IgnoreRuleDecision['decision'] }>
  /** Rules people accepted; the workers apply them with the configured ones. */
  acceptedRules: IgnoreRuleDecision[]
  /** Gateways whose shadow budget guard holds the mirror rate of this route down. */
  backedOff: ShadowGuardState[]
}

/** Guard reports older than this are left out: the gateway is gone or long recovered. */
const guardFreshMs = 60 * 60 * 1_000

export async function buildRouteReport (redis: RedisClient, keys: Keys, route: string, from: number, to: number): Promise<RouteReport> {
  const [divergence, model, decisions, guards] = await Promise.all([
    readDivergence(redis, keys, route, from, to),
    readNoiseModel(redis, keys, route),
    readIgnoreRules(redis, keys, route),
    readShadowGuards(redis, keys, route)
  ])
  const decided = new Map(decisions.map((decision) => [`${decision.rule}:${decision.pattern}`, decision.decision]))
  const suggestions = suggestIgnoreRules(model).map((suggestion) => {
    const decision = decided.get(`${suggestion.rule}:${suggestion.pattern}`)
    return decision === undefined ? suggestion : { ...suggestion, decision }
  })
  const noisePaths = Object.entries(model.paths)
    .map(([path, counts]) => ({ path, ...counts }))
    .sort((a, b) => Math.max(b.value, b.presence) - Math.max(a.value, a.presence))

  return {
    ...divergence,
    noise: { samples: model.samples, paths: noisePaths },
    suggestions,
    acceptedRules: decisions.filter((decision) => decision.decision === 'accepted'),
    backedOff: guards.filter((guard) => guard.factor < 1 && to - guard.since < guardFreshMs)
  }
}
