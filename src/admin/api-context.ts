import type { RedisClient } from '../store/redis-connection.js'
import type { RouteConfig } from '../config/schema.js'
import type { Keys } from '../store/keys.js'
import { seedRolloutStates } from '../store/rollout-store.js'
import type { RouteCatalog, ViewContext } from './route-view.js'

/** What the admin API's route plugins share. */
export interface ApiContext {
  catalog: RouteCatalog
  redis: RedisClient
  keys: Keys
  now: () => number
  /** The percentage this process serves a route with, if it serves it. */
  served: (route: string) => number | undefined
}

export function viewContext (context: ApiContext): ViewContext {
  return { redis: context.redis, keys: context.keys, now: context.now(), served: context.served }
}

/**
 * Writes a state for a route Redis has none for (a flushed or replaced
 * Redis), as the gateways would on their next re-read: with the
 * percentage this process serves, so a change always has a state to start
 * from. Never overwrites a stored state.
 */
export async function seedMissingState (context: ApiContext, route: RouteConfig): Promise<void> {
  const percentage = context.served(route.name) ?? route.percentage

  await seedRolloutStates(context.redis, context.keys, new Map([[route.name, percentage]]), context.now())
}
