import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import {
  SR_ERR_NO_TOKENS, SR_ERR_READ_ONLY_TOKEN, SR_ERR_TOKEN_MISSING, SR_ERR_TOKEN_UNKNOWN, type ShadowrampError
} from '../errors.js'

/** A configured admin token: a name for logs and history, the secret, and what it may do. */
export type AdminToken = Config['admin']['tokens'][number]

/** What a route needs: `read` to look, `operator` to change a rollout. */
export type AccessLevel = AdminToken['role']

declare module 'fastify' {
  /** Set on every admin API route as its `config`. */
  interface FastifyContextConfig {
    /** What the route needs; undefined means read. */
    access?: AccessLevel
    /** Not counted against the operator rate limit (rollbacks). */
    unlimited?: boolean
  }

  interface FastifyRequest {
    /** The token the request came with, once the auth hook accepted it. */
    adminToken?: AdminToken
  }
}

/**
 * Compares a presented secret with a configured one in time that depends
 * on neither: both sides are hashed to 32 bytes first, so neither a
 * shorter guess nor a matching prefix answers sooner.
 */
export function secretsMatch (presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected))
}

/**
 * The configured token a secret belongs to. Every token is compared, with
 * no early exit, so the time taken does not tell which one matched or how
 * far down the list it is.
 */
export function findToken (tokens: readonly AdminToken[], presented: string): AdminToken | undefined {
  let found: AdminToken | undefined
  for (const token of tokens) {
    const matches = secretsMatch(presented, token.token)
    if (matches && found === undefined) found = token
  }

  return found
}

/**
 * The secret of an `Authorization: Bearer <secret>` header, if it has one.
 * Read by slicing, not by a pattern that could backtrack on a long header
 * sent without any token.
 */
export function readBearer (header: string | undefined): string | undefined {
  const text = (header ?? '').trim()
  const gap = text.search(/[ \t]/)
  if (gap < 0 || text.slice(0, gap).toLowerCase() !== 'bearer') return undefined

  const secret = text.slice(gap).trim()
  return secret === '' ? undefined : secret
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

export interface TokenAuthOptions {
  tokens: readonly AdminToken[]
}

/**
 * Bearer-token auth for the routes of the context it is registered in
 * (not the open /healthz, /readyz and /metrics). Runs before the body is
 * parsed, so a request without a valid token costs no parsing. Refusals
 * are logged at warn with the token's name, never its secret.
 */
export async function tokenAuth (app: FastifyInstance, options: TokenAuthOptions): Promise<void> {
  const { tokens } = options
  if (tokens.length === 0) app.log.warn('admin.tokens is empty: every /api request is refused with 401 until tokens are configured')

  app.addHook('onRequest', async (request, reply) => {
    const refusal = checkAccess(request, tokens)
    if (refusal === undefined) return

    const tokenName = request.adminToken?.name ?? 'unknown token'
    request.log.warn({ tokenName, method: request.method, url: request.routeOptions.url, code: refusal.code }, 'admin request refused')
    return await refuse(reply, refusal)
  })
}

// Hooks added by the plugin apply to the routes of the context that
// registers it, as fastify-plugin would arrange, without the dependency.
Object.defineProperty(tokenAuth, Symbol.for('skip-override'), { value: true })

function checkAccess (request: FastifyRequest, tokens: readonly AdminToken[]): ShadowrampError | undefined {
  if (tokens.length === 0) return new SR_ERR_NO_TOKENS()

  const secret = readBearer(request.headers.authorization)
  if (secret === undefined) return new SR_ERR_TOKEN_MISSING()

  const token = findToken(tokens, secret)
  if (token === undefined) return new SR_ERR_TOKEN_UNKNOWN()

  request.adminToken = token
  const access = request.routeOptions.config.access ?? 'read'
  if (access === 'operator' && token.role !== 'operator') {
    return new SR_ERR_READ_ONLY_TOKEN(token.name, `${request.method} ${request.routeOptions.url ?? request.url}`)
  }

  return undefined
}

async function refuse (reply: FastifyReply, error: ShadowrampError): Promise<FastifyReply> {
  if (error.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="shadowramp admin"')

  return await reply.code(error.statusCode).send({ error: error.message, code: error.code })
}
