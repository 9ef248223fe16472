import type { RedisClient } from './redis-connection.js'
import type { Keys } from './keys.js'
import { defineScript, runScript } from './lua-script.js'

/** Where a route's rollout stands. */
export type RolloutStatus =
  /** Not under a plan's control: the percentage moves only by hand. */
  | 'manual'
  /** The controller analyses each step and promotes or rolls back. */
  | 'ramping'
  /** A person or a progress deadline stopped promotions; rollbacks still fire. */
  | 'paused'
  /** Rolled back; stays so until a person retries. */
  | 'rolled-back'
  /** On the plan's last step. */
  | 'complete'

/**
 * A route's rollout state as RedisClient holds it. Written by people (admin API,
 * CLI), alerts and the controller; read by every gateway.
 */
export interface RolloutState {
  route: string
  /** Share of live requests the candidate serves, 0–100 in steps of 0.01. */
  percentage: number
  /** Raised by one on every write, so a writer can tell it is not the last. */
  version: number
  /** When the state was last written, by a change or by the controller recording an analysis. */
  updatedAt: number
  /**
   * When the route last changed: the time of its newest history entry.
   * The actor and reason are that change's. Absent on states written
   * before the field existed; updatedAt stands in then.
   */
  changedAt?: number
  actor: string
  reason: string
  status?: RolloutStatus
  /** Index into the plan's steps. */
  stepIndex?: number
  /** When the route entered its step (epoch ms): the step's figures count from here. */
  stepStartedAt?: number
  /** Consecutive failing analyses on this step. */
  failingIntervals?: number
  /** What the controller waits for, in words ("holding: 140 of 500 compared pairs"). */
  waitingFor?: string
  lastAnalysisAt?: number
}

/** The fields a write sets; version and time are set by the store. */
export type RolloutStateChange = Omit<RolloutState, 'version' | 'updatedAt' | 'route'>

/** One change in a route's history: who, why, and the figures behind it. */
export interface HistoryEntry {
  at: number
  route: string
  actor: string
  /** promote, roll-back, pause, resume, set, retry, complete, alert, … */
  action: string
  from: number
  to: number
  reason: string
  /** The analysis or alert the change was based on. */
  figures?: unknown
}

/** History entries kept per route, newest first. */
export const historyLength = 1_000

/*
 * Writes a route's state, raises its version, appends the history entry
 * and announces the change, in one step. With an expected version, the
 * write happens only if nobody wrote since it was read, so the controller
 * never overwrites a person's change with a decision taken on old state.
 * KEYS: state hash, change channel, history list.
 * ARGV: route, JSON of the new state, expected version ('' for none),
 * JSON history entry ('' for none), history length.
 * Returns the state written, or false on a version conflict.
 */
const writeStateScript = defineScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = 0
if current then
  version = cjson.decode(current).version or 0
end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= version then
  return false
end
local state = cjson.decode(ARGV[2])
state.version = version + 1
local encoded = cjson.encode(state)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
if ARGV[4] ~= '' then
  redis.call('LPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return encoded
`)

export interface WriteOptions {
  /** Write only if the stored version is still this one. */
  expectVersion?: number
  /** Appended to the route's history with the state, atomically. */
  history?: Omit<HistoryEntry, 'at' | 'route'>
  now?: number
}

/** Writes a state; undefined when `expectVersion` no longer matched. */
export async function writeRolloutState (redis: RedisClient, keys: Keys, route: string, change: RolloutStateChange, options: WriteOptions = {}): Promise<RolloutState | undefined> {
  const now = options.now ?? Date.now()
  const fields = { ...change, route, updatedAt: now, ...(options.history === undefined ? {} : { changedAt: now }) }
  const history = options.history === undefined ? '' : JSON.stringify({ at: now, route, ...options.history })
  const encoded = await runScript(redis, writeStateScript, [keys.rolloutState, keys.rolloutChanges, keys.rolloutHistory(route)],
    [route, JSON.stringify(fields), options.expectVersion ?? '', history, historyLength]) as string | null

  return encoded === null ? undefined : parseState(encoded)
}

/** Who set a seeded percentage, and why. */
export interface SeedOrigin {
  actor: string
  reason: string
}

const fromConfiguration: SeedOrigin = { actor: 'config', reason: 'initial percentage from configuration' }

/** Records a percentage for routes Redis knows nothing about yet: the configured one unless told otherwise. */
export async function seedRolloutStates (
  redis: RedisClient, keys: Keys, initial: Map<string, number>, now = Date.now(), origin: SeedOrigin = fromConfiguration
): Promise<void> {
  const pipeline = redis.pipeline()
  for (const [route, percentage] of initial) {
    const state: RolloutState = { route, percentage, version: 1, updatedAt: now, ...origin }
    pipeline.hsetnx(keys.rolloutState, route, JSON.stringify(state))
  }

  // A pipeline resolves even when its commands failed; a seed that timed
  // out must fail its caller rather than let it go on to the next command.
  for (const [error] of (await pipeline.exec()) ?? []) {
    if (error !== null) throw error
  }
}

export async function readRolloutStates (redis: RedisClient, keys: Keys): Promise<Map<string, RolloutState>> {
  const raw = await redis.hgetall(keys.rolloutState)
  const states = new Map<string, RolloutState>()
  for (const [route, encoded] of Object.entries(raw)) states.set(route, parseState(encoded))

  return states
}

export async function readRolloutState (redis: RedisClient, keys: Keys, route: string): Promise<RolloutState | undefined> {
  const encoded = await redis.hget(keys.rolloutState, route)

  return encoded === null ? undefined : parseState(encoded)
}

/** A route's history, newest first. */
export async function readHistory (redis: RedisClient, keys: Keys, route: string, limit = 100): Promise<HistoryEntry[]> {
  const entries = await redis.lrange(keys.rolloutHistory(route), 0, Math.max(0, limit - 1))

  return entries.map((entry) => JSON.parse(entry) as HistoryEntry)
}

function parseState (encoded: string): RolloutState {
  return JSON.parse(encoded) as RolloutState
}
