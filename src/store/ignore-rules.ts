import type { RedisClient } from './redis-connection.js'
import type { Keys } from './keys.js'

/** A person's answer to a suggested ignore rule. */
export interface IgnoreRuleDecision {
  rule: 'ignorePaths' | 'ignoreHeaders'
  pattern: string
  decision: 'accepted' | 'rejected'
  at: number
  actor: string
}

export async function decideIgnoreRule (redis: RedisClient, keys: Keys, route: string, decision: IgnoreRuleDecision): Promise<void> {
  await redis.hset(keys.ignoreRules(route), `${decision.rule}:${decision.pattern}`, JSON.stringify(decision))
}

export async function forgetIgnoreRule (redis: RedisClient, keys: Keys, route: string, rule: string, pattern: string): Promise<boolean> {
  return await redis.hdel(keys.ignoreRules(route), `${rule}:${pattern}`) === 1
}

export async function readIgnoreRules (redis: RedisClient, keys: Keys, route: string): Promise<IgnoreRuleDecision[]> {
  const fields = await redis.hgetall(keys.ignoreRules(route))

  return Object.values(fields).map((encoded) => JSON.parse(encoded) as IgnoreRuleDecision)
}
