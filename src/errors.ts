/**
 * The catalogue of shadowramp's coded errors. Each entry has a stable code,
 * a message template (`%s` placeholders, filled in order) and, where the
 * error reaches an HTTP client, the status it answers with.
 *
 * Call sites import the one constructor they throw; tests match on `code`.
 */

export interface ShadowrampErrorOptions {
  cause?: unknown
}

export class ShadowrampError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, message: string, statusCode: number, options?: ShadowrampErrorOptions) {
    super(message, options)
    this.name = 'ShadowrampError'
    this.code = code
    this.statusCode = statusCode
  }
}

export interface ShadowrampErrorConstructor {
  new (...args: Array<string | number | ShadowrampErrorOptions | undefined>): ShadowrampError
  readonly code: string
  readonly statusCode: number
}

function defineError (code: string, template: string, statusCode = 500): ShadowrampErrorConstructor {
  class CodedError extends ShadowrampError {
    static readonly code = code
    static readonly statusCode = statusCode

    constructor (...args: Array<string | number | ShadowrampErrorOptions | undefined>) {
      const last = args.at(-1)
      const options = typeof last === 'object' ? last : undefined
      const values = (options === undefined ? args : args.slice(0, -1)) as Array<string | number>
      super(code, formatTemplate(template, values), statusCode, options)
    }
  }

  return CodedError
}

function formatTemplate (template: string, values: Array<string | number>): string {
  let next = 0

  return template.replace(/%s/g, () => String(values[next++] ?? ''))
}

export const SR_ERR_CONFIG_INVALID = defineError(
  'SR_ERR_CONFIG_INVALID', 'configuration is invalid:\n%s')
export const SR_ERR_CONFIG_UNREADABLE = defineError(
  'SR_ERR_CONFIG_UNREADABLE', 'cannot read configuration file %s: %s')
export const SR_ERR_REDIS_UNAVAILABLE = defineError(
  'SR_ERR_REDIS_UNAVAILABLE', '%s')
export const SR_ERR_UPSTREAM_REFUSED = defineError(
  'SR_ERR_UPSTREAM_REFUSED', 'the %s refused the connection', 502)
export const SR_ERR_UPSTREAM_RESET = defineError(
  'SR_ERR_UPSTREAM_RESET', 'the %s reset the connection', 502)
export const SR_ERR_UPSTREAM_TIMEOUT = defineError(
  'SR_ERR_UPSTREAM_TIMEOUT', 'the %s did not answer within %s ms', 504)
export const SR_ERR_UPSTREAM_STATUS = defineError(
  'SR_ERR_UPSTREAM_STATUS', 'the %s answered with status %s', 502)
export const SR_ERR_UPSTREAM_FAILED = defineError(
  'SR_ERR_UPSTREAM_FAILED', 'the %s failed: %s', 502)
export const SR_ERR_NO_ROUTE = defineError(
  'SR_ERR_NO_ROUTE', 'no route matches %s', 404)
export const SR_ERR_BAD_PATH = defineError(
  'SR_ERR_BAD_PATH', 'the request path is not allowed: %s', 400)
export const SR_ERR_BODY_TOO_LARGE = defineError(
  'SR_ERR_BODY_TOO_LARGE', 'the request body is larger than the %s bytes allowed (maxRequestBodyBytes)', 413)
export const SR_ERR_FALLBACK_EMPTY = defineError(
  'SR_ERR_FALLBACK_EMPTY', 'no backend answered and route %s has no fallback content for this request', 503)
export const SR_ERR_UNKNOWN_ROUTE = defineError(
  'SR_ERR_UNKNOWN_ROUTE', 'unknown route %s%s', 404)
export const SR_ERR_BAD_PERCENTAGE = defineError(
  'SR_ERR_BAD_PERCENTAGE', 'percentage must be a number from 0 to 100 in steps of 0.01, got %s', 400)
export const SR_ERR_LISTEN = defineError(
  'SR_ERR_LISTEN', 'cannot listen on %s: %s')
export const SR_ERR_ACTION_REFUSED = defineError(
  'SR_ERR_ACTION_REFUSED', 'route %s cannot do that: %s', 409)
export const SR_ERR_TOKEN_MISSING = defineError(
  'SR_ERR_TOKEN_MISSING', 'the admin API needs a bearer token: send "Authorization: Bearer <token>" with a token from admin.tokens', 401)
export const SR_ERR_TOKEN_UNKNOWN = defineError(
  'SR_ERR_TOKEN_UNKNOWN', 'the bearer token is not one of admin.tokens', 401)
export const SR_ERR_NO_TOKENS = defineError(
  'SR_ERR_NO_TOKENS', 'the admin API has no tokens configured, so it refuses every request: add admin.tokens to the configuration, e.g. `tokens: [{ name: alice, token: "${SHADOWRAMP_OPERATOR_TOKEN}", role: operator }]` (roles: read, operator; tokens of at least 16 characters)', 401)
export const SR_ERR_READ_ONLY_TOKEN = defineError(
  'SR_ERR_READ_ONLY_TOKEN', 'token %s has the read role; %s needs an operator token', 403)
export const SR_ERR_RATE_LIMITED = defineError(
  'SR_ERR_RATE_LIMITED', 'token %s made %s changes in the last minute, the most admin.operatorActionsPerMinute allows; retry in %s s', 429)
export const SR_ERR_BAD_REQUEST = defineError(
  'SR_ERR_BAD_REQUEST', 'bad request: %s', 400)
export const SR_ERR_BAD_DURATION = defineError(
  'SR_ERR_BAD_DURATION', '%s wants a duration such as 30s, 10m, 1h or 1d, at most %s, got %s', 400)
export const SR_ERR_NOT_FOUND = defineError(
  'SR_ERR_NOT_FOUND', 'the admin API has no %s %s; GET /api/openapi.json lists what it has', 404)
export const SR_ERR_UNKNOWN_IGNORE_RULE = defineError(
  'SR_ERR_UNKNOWN_IGNORE_RULE', 'route %s has no decision on %s %s', 404)
export const SR_ERR_STATE_UNAVAILABLE = defineError(
  'SR_ERR_STATE_UNAVAILABLE', 'rollout state is unavailable: %s', 503)
export const SR_ERR_ADMIN_UNREACHABLE = defineError(
  'SR_ERR_ADMIN_UNREACHABLE', 'cannot reach the admin API at %s (%s); is `shadowramp serve` running there? Point --admin or SHADOWRAMP_ADMIN_URL at its admin listener')
export const SR_ERR_ADMIN_ANSWER = defineError(
  'SR_ERR_ADMIN_ANSWER', '%s (HTTP %s, %s)%s')
export const SR_ERR_ADMIN_FAILED = defineError(
  'SR_ERR_ADMIN_FAILED', 'the admin API failed; its log has the details', 500)
