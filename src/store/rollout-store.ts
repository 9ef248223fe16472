import type { Redis } from 'ioredis'
import type { Keys } from './keys.js'

/**
 * A route's rollout state as Redis holds it. Written by people (admin API,
 * CLI) and the controller; read by every gateway.
 */
export interface RolloutState {
  route: string
  /** Share of live requests the candidate serves, 0–100 in steps of 0.01. */
  percentage: number
  /** Raised by one on every write, so readers can ignore stale copies. */
  version: number
  updatedAt: number
  actor: string
  reason: string
}

export type RolloutStateChange = Omit<RolloutState, 'version' | 'updatedAt' | 'route'>

/*
 * Reads the current state, raises the version, writes and announces the
 * change in one step, so two writers never reuse a version number.
 * KEYS: state hash, change channel. ARGV: route, JSON of the new fields.
 */
const writeStateScript = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local state = cjson.decode(ARGV[2])
local version = 0
if current then
  version = cjson.decode(current).version or 0
end
state.version = version + 1
local encoded = cjson.encode(state)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('PUBLISH', KEYS[2], ARGV[1])
return encoded
`

export async function writeRolloutState (redis: Redis, keys: Keys, route: string, change: RolloutStateChange, now = Date.now()): Promise<RolloutState> {
  const fields = { ...change, route, updatedAt: now }
  const encoded = await redis.eval(writeStateScript, 2, keys.rolloutState, keys.rolloutChanges, route, JSON.stringify(fields)) as string

  return parseState(encoded)
}

/** Records the configured percentage for routes Redis knows nothing about yet. */
export async function seedRolloutStates (redis: Redis, keys: Keys, initial: Map<string, number>, now = Date.now()): Promise<void> {
  const pipeline = redis.pipeline()
  for (const [route, percentage] of initial) {
    const state: RolloutState = { route, percentage, version: 1, updatedAt: now, actor: 'config', reason: 'initial percentage from configuration' }
    pipeline.hsetnx(keys.rolloutState, route, JSON.stringify(state))
  }

  await pipeline.exec()
}

export async function readRolloutStates (redis: Redis, keys: Keys): Promise<Map<string, RolloutState>> {
  const raw = await redis.hgetall(keys.rolloutState)
  const states = new Map<string, RolloutState>()
  for (const [route, encoded] of Object.entries(raw)) states.set(route, parseState(encoded))

  return states
}

export async function readRolloutState (redis: Redis, keys: Keys, route: string): Promise<RolloutState | undefined> {
  const encoded = await redis.hget(keys.rolloutState, route)

  return encoded === null ? undefined : parseState(encoded)
}

function parseState (encoded: string): RolloutState {
  return JSON.parse(encoded) as RolloutState
}
