import type { RedisClient } from './redis-connection.js'
import type { Keys } from './keys.js'

/** A gateway's shadow budget guard for one route, as the report shows it. */
export interface ShadowGuardState {
  /** Share of the configured sample rate in force; 1 when not backed off. */
  factor: number
  reason: string
  since: number
  /** Which gateway process reported it (host and pid). */
  gateway: string
}

export async function writeShadowGuard (redis: RedisClient, keys: Keys, route: string, state: ShadowGuardState): Promise<void> {
  await redis.multi()
    .hset(keys.shadowGuard, `${route}\u0000${state.gateway}`, JSON.stringify(state))
    .pexpire(keys.shadowGuard, guardRetentionMs)
    .exec()
}

/** Guard states of gateways that stopped reporting fade out with the whole hash after this. */
const guardRetentionMs = 24 * 60 * 60 * 1_000

/** Every gateway's latest guard state for a route. */
export async function readShadowGuards (redis: RedisClient, keys: Keys, route: string): Promise<ShadowGuardState[]> {
  const fields = await redis.hgetall(keys.shadowGuard)
  const prefix = `${route}\u0000`

  return Object.entries(fields)
    .filter(([field]) => field.startsWith(prefix))
    .map(([, encoded]) => JSON.parse(encoded) as ShadowGuardState)
}
