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
    .hset(keys.shadowGuard, guardField(route, state.gateway), JSON.stringify(state))
    .pexpire(keys.shadowGuard, guardRetentionMs)
    .exec()
}

/** A gateway that stops takes its guard states with it: its back-off no longer holds any rate down. */
export async function clearShadowGuards (redis: RedisClient, keys: Keys, routes: readonly string[], gateway: string): Promise<void> {
  if (routes.length === 0) return

  await redis.hdel(keys.shadowGuard, ...routes.map((route) => guardField(route, gateway)))
}

function guardField (route: string, gateway: string): string {
  return `${route}\u0000${gateway}`
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
