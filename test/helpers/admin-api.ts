import { performance } from 'node:perf_hooks'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { createKeys, type Keys } from '../../src/store/keys.js'
import type { Logger } from '../../src/telemetry/logger.js'
import { startTestShadowramp } from './gateway.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from './redis.js'

export const operatorSecret = 'operator-secret-for-tests-0001'
export const otherOperatorSecret = 'operator-secret-for-tests-0002'
export const readSecret = 'read-secret-for-tests-000000001'

export const testTokens = [
  { name: 'alice', token: operatorSecret, role: 'operator' },
  { name: 'carol', token: otherOperatorSecret, role: 'operator' },
  { name: 'bob', token: readSecret, role: 'read' }
]

/** Steps short enough to walk through in a test. */
export const testPlan = { steps: [1, 5, 25, 100] }

/** A route whose backends nothing listens on: for tests of state, not traffic. */
export function quietRoute (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, paths: [`/${name}`], baseline: { url: 'http://127.0.0.1:9' }, candidate: { url: 'http://127.0.0.1:9' }, ...extra }
}

export interface AnswerOf {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: any
}

export type Call = (method: string, path: string, options?: { token?: string | undefined, body?: unknown }) => Promise<AnswerOf>

export interface AdminHarness {
  adminUrl: string
  gatewayUrl: string
  redisUrl: string
  namespace: string
  keys: Keys
  redis: Redis
  call: Call
  served: (route: string) => number
}

/**
 * A whole shadowramp process (controller off, so nothing but the test
 * moves a rollout) with test tokens, its own namespace, and a client.
 */
export async function startAdminHarness (t: Test, input: { routes: Array<Record<string, unknown>>, admin?: Record<string, unknown>, logger?: Logger }): Promise<AdminHarness> {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('admin')
  const running = await startTestShadowramp({
    admin: { listen: { host: '127.0.0.1', port: 0 }, tokens: testTokens, operatorActionsPerMinute: 1_000, ...input.admin },
    controller: { enabled: false },
    redis: { url: redisUrl, namespace },
    routes: input.routes
  }, { redisUrl, logger: input.logger })
  const redis = new Redis(redisUrl)
  t.teardown(async () => {
    await running.close()
    redis.disconnect()
    await dropNamespace(redisUrl, namespace)
  })

  return {
    adminUrl: running.adminUrl,
    gatewayUrl: running.gatewayUrl,
    redisUrl,
    namespace,
    keys: createKeys(namespace),
    redis,
    call: async (method, path, options = {}) => await callAdmin(running.adminUrl, method, path, options.token === undefined && !('token' in options) ? readSecret : options.token, options.body),
    served: (route) => running.watcher.percentageOf(route)
  }
}

/** One admin API request; the body is parsed as JSON when it is JSON. */
export async function callAdmin (adminUrl: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<AnswerOf> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'

  const response = await request(`${adminUrl}${path}`, { method: method as 'GET', headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.body.text()
  const json = (response.headers['content-type'] ?? '').toString().includes('json') ? JSON.parse(text) as unknown : text

  return { status: response.statusCode, headers: response.headers, body: json }
}

/** Polls until the check passes; the time it took, or Infinity. */
export async function waitFor (check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 10))
  }

  return Infinity
}
