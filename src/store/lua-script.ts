import { createHash } from 'node:crypto'
import type { RedisClient } from './redis-connection.js'

/** A Lua script sent by its SHA-1 digest, its text sent only when Redis does not know it yet. */
export interface LuaScript {
  lua: string
  sha: string
}

export function defineScript (lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/**
 * Runs a script by digest (EVALSHA), falling back to the whole text once
 * after a restarted or flushed Redis forgot it. Scripts that run on every
 * batch or decision cost one small command instead of their whole text.
 */
export async function runScript (redis: RedisClient, script: LuaScript, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
    return await redis.eval(script.lua, keys.length, ...keys, ...args)
  }
}
