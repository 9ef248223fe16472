import { z } from 'zod'
import { compareSchema } from './compare-schema.js'
import { planSchema } from './plan-schema.js'

/*
 * The whole configuration, its defaults and its units, in one place.
 *
 * Every custom message below is phrased as what was *expected*: the loader
 * prints "expected <message>, found <value>" with the file position.
 */

const percentagePattern = /^\d{1,3}(\.\d{1,2})?$/

const httpUrl = z.string({ error: 'an http:// or https:// URL' })
  .refine(isHttpUrl, 'an http:// or https:// URL')

const positiveMs = z.number({ error: 'a number of milliseconds' })
  .int('a whole number of milliseconds')
  .positive('a number of milliseconds above 0')

const byteCount = z.number({ error: 'a number of bytes' })
  .int('a whole number of bytes')
  .positive('a number of bytes above 0')

/** Batches a worker process has in hand at once unless configured otherwise. */
export const defaultWorkerConcurrency = 3

/** A percentage from 0 to 100 in steps of 0.01; a value out of range is one problem, not two. */
export const percentageSchema = z.number({ error: 'a percentage from 0 to 100' })
  .min(0, 'a percentage from 0 to 100')
  .max(100, 'a percentage from 0 to 100')
  .refine((value) => value < 0 || value > 100 || isHundredth(value), 'a percentage in steps of 0.01')

const statusCode = z.number({ error: 'an HTTP status code' })
  .int('an HTTP status code')
  .min(100, 'an HTTP status code from 100 to 599')
  .max(599, 'an HTTP status code from 100 to 599')

const backendSchema = z.strictObject({
  /** Origin of the backend, e.g. http://10.0.0.5:8080. A path prefix is kept. */
  url: httpUrl,
  /** Time allowed for the response head, and between body chunks. */
  timeoutMs: positiveMs.default(2_000),
  /** Keep-alive connections kept open to this backend. */
  connections: z.number({ error: 'a number of connections' })
    .int('a whole number of connections').min(1, 'at least 1 connection').default(128)
})

/**
 * Where the sticky key comes from: `header:<name>`, `cookie:<name>` or
 * `client-address`. Requests without the key are split at random.
 */
const stickyKeySchema = z.string({ error: 'header:<name>, cookie:<name> or client-address' })
  .regex(/^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^\s;=]+|client-address)$/,
    'header:<name>, cookie:<name> or client-address')

const lastGoodSchema = z.strictObject({
  /** Paths remembered per route; the least recently used is forgotten first. */
  maxEntries: z.number({ error: 'a number of entries' }).int().positive().default(1_000),
  /** Responses larger than this are not remembered. */
  maxBodyBytes: byteCount.default(256 * 1024),
  /** A path's copy is refreshed at most this often, to keep copying off most requests. */
  refreshMs: positiveMs.default(10_000)
})

const staticFallbackSchema = z.strictObject({
  /** A file served as the fallback body (path relative to the working directory). */
  file: z.string({ error: 'a file path' }).min(1, 'a file path').optional(),
  /** A URL (a CDN copy) fetched when the fallback is needed. */
  url: httpUrl.optional(),
  contentType: z.string({ error: 'a content type' }).default('application/json'),
  status: statusCode.default(200),
  timeoutMs: positiveMs.default(1_000)
}).refine(hasExactlyOneSource, 'exactly one of file or url')

const fallbackSchema = z.strictObject({
  /** Serve the last good response for the same path when both backends fail. */
  lastGood: lastGoodSchema.optional(),
  /** Served when there is no last good response (or it is not configured). */
  static: staticFallbackSchema.optional()
})

const headerName = z.string({ error: 'a header name' })
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name')
  .transform((name) => name.toLowerCase())

const safeAndUnsafeMethods = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/**
 * Shadow traffic for a route: a sampled share of live requests is sent to
 * the backend that did not serve it, and both answers go to the diff
 * workers as a pair.
 */
const mirrorSchema = z.strictObject({
  /** Share of live requests mirrored, 0–100 (%). */
  sampleRate: percentageSchema.default(100),
  /**
   * Methods mirrored. An unsafe method is mirrored only when listed here,
   * because a mirrored POST runs its side effects twice.
   */
  methods: z.array(z.enum(safeAndUnsafeMethods, { error: 'GET, HEAD, OPTIONS, POST, PUT, PATCH or DELETE' }),
    { error: 'a list of HTTP methods' }).default(['GET', 'HEAD']),
  /** At most this many shadow requests a second for the route, whatever the sample rate. */
  maxPerSecond: z.number({ error: 'a number of requests a second' }).positive('a number of requests a second above 0').default(500),
  /** Shadow requests waiting for an answer at once; more are skipped, never queued. */
  maxInFlight: z.number({ error: 'a number of requests' }).int().min(1, 'at least 1 request').default(64),
  timeoutMs: positiveMs.default(2_000),
  /** Headers set on every shadow request, so the backend can tell them apart. */
  addHeaders: z.record(headerName, z.string({ error: 'a header value' }), { error: 'a mapping of header names to values' })
    .default({ 'x-shadow-request': '1' }),
  /** Headers removed from shadow requests (e.g. if-none-match, so both answers carry a body). */
  removeHeaders: z.array(headerName, { error: 'a list of header names' }).default([]),
  /** Request headers kept with the pair, besides accept, accept-encoding, content-type and the sticky key. */
  captureHeaders: z.array(headerName, { error: 'a list of header names' }).default([]),
  /** Header names whose values are replaced by [redacted] wherever a pair is stored. */
  redactHeaders: z.array(headerName, { error: 'a list of header names' }).default([]),
  /** JSON field names whose values are replaced by [redacted], at any depth, in stored bodies. */
  redactFields: z.array(z.string({ error: 'a field name' }).min(1), { error: 'a list of field names' }).default([]),
  /** Share of mirrored safe requests for which the baseline is asked twice, to learn noise (%). */
  noiseSampleRate: percentageSchema.default(2),
  /** A second baseline instance to ask for the repeat, instead of the same one. */
  repeatBaselineUrl: httpUrl.optional()
})

const routeNameSchema = z.string({ error: 'a route name' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/,
    'a route name of lowercase letters, digits, - and _ (at most 63)')

/**
 * Path patterns in Fastify's syntax: `/products`, `/products/:id`,
 * `/products/*` (any rest of the path).
 */
const pathPatternSchema = z.string({ error: 'a path pattern starting with /' })
  .regex(/^\/[^\s?#]*$/, 'a path pattern starting with / without query or spaces')

export const routeSchema = z.strictObject({
  name: routeNameSchema,
  paths: z.array(pathPatternSchema, { error: 'a list of path patterns' })
    .min(1, 'at least one path pattern'),
  baseline: backendSchema,
  candidate: backendSchema,
  stickyKey: stickyKeySchema.default('header:x-user-id'),
  /** The candidate's share when Redis holds no percentage for this route yet. */
  percentage: percentageSchema.default(0),
  /**
   * The candidate's answers to safe requests up to this size are read
   * whole before they are sent, so one that breaks off mid-body still falls
   * back to the baseline. Larger answers stream. 0 streams them all.
   */
  bufferCandidateBytes: z.number({ error: 'a number of bytes' }).int('a whole number of bytes')
    .min(0, 'a number of bytes from 0').default(1024 * 1024),
  /** Statuses that count as a failure besides 5xx (e.g. 429). */
  failOnStatus: z.array(statusCode, { error: 'a list of HTTP status codes' }).default([]),
  fallback: fallbackSchema.prefault({}),
  /** Shadow traffic; off when absent. */
  mirror: mirrorSchema.optional(),
  /** How the diff workers normalize both answers before calling them different. */
  compare: compareSchema.prefault({}),
  /** The automatic ramp; without one, the percentage moves only by hand. */
  plan: planSchema.optional()
})

const listenSchema = z.strictObject({
  host: z.string({ error: 'a host name or address' }).default('127.0.0.1'),
  port: z.number({ error: 'a port number' }).int('a port number')
    .min(0, 'a port from 0 to 65535').max(65_535, 'a port from 0 to 65535')
})

export const configSchema = z.strictObject({
  /** The public listener that serves live traffic. */
  listen: listenSchema.default({ host: '127.0.0.1', port: 8080 }),
  /** The admin listener: health, readiness, metrics, and the admin API. */
  admin: z.strictObject({
    listen: listenSchema.default({ host: '127.0.0.1', port: 9090 }),
    /**
     * Bearer tokens of the admin API: `read` sees everything, `operator`
     * may also change rollouts. Put the secrets in the environment:
     * `token: ${SHADOWRAMP_OPERATOR_TOKEN}`.
     */
    tokens: z.array(z.strictObject({
      /** Shown in logs and history instead of the token. */
      name: z.string({ error: 'a token name' }).regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a token name of letters, digits, _ . @ and -'),
      token: z.string({ error: 'a token of at least 16 characters' }).min(16, 'a token of at least 16 characters'),
      role: z.enum(['read', 'operator'], { error: 'read or operator' })
    }), { error: 'a list of tokens' }).default([]),
    /** Changes one operator token may make a minute; more get 429. */
    operatorActionsPerMinute: z.number({ error: 'a number of actions' }).int().min(1, 'at least 1 action').default(30)
  }).prefault({}),
  redis: z.strictObject({
    url: z.string({ error: 'a redis:// URL' })
      .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
    /** Prefix of every key and channel, so several deployments can share a Redis. */
    namespace: z.string({ error: 'a key namespace' })
      .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'a namespace of letters, digits, _ . and -').default('sr'),
    /** Safety net under pub/sub: percentages are re-read this often. */
    rereadMs: positiveMs.default(5_000)
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      { error: 'one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
    /** One access line per live request, at info. */
    requests: z.boolean({ error: 'true or false' }).default(true)
  }).prefault({}),
  /** A request header that forces one backend, for testers. Off unless enabled. */
  forceHeader: z.strictObject({
    enabled: z.boolean({ error: 'true or false' }).default(false),
    name: z.string({ error: 'a header name' }).default('x-shadowramp-backend')
  }).prefault({}),
  /** The queue of pairs between the gateways and the diff workers. */
  shadow: z.strictObject({
    /**
     * Bodies larger than this are not kept; the pair is recorded as too
     * large. At most 64 MiB: a pair's record (up to four bodies) then stays
     * far under Redis's 512 MB limit on one value.
     */
    maxBodyBytes: byteCount.max(64 * 1024 * 1024, 'a number of bytes up to 64 MiB (67108864)').default(1024 * 1024),
    /** Pairs sent to Redis in one write, at most. */
    batchPairs: z.number({ error: 'a number of pairs' }).int().min(1, 'at least 1 pair').default(64),
    /** A batch is written at least this often while pairs are waiting. */
    batchMs: positiveMs.default(20),
    /**
     * Pairs waiting in this process for Redis; more are dropped and counted.
     * Their bodies wait in one buffer of this size, reserved at start and
     * resident once mirroring has gone round it: this is memory the gateway
     * keeps. At most 1 GiB, an arbitrary ceiling.
     */
    maxPendingBytes: byteCount.max(2 ** 30, 'a number of bytes up to 1 GiB (1073741824)').default(16 * 1024 * 1024),
    /** Batches waiting in the queue for a worker; beyond it new pairs are dropped and counted. */
    maxQueueDepth: z.number({ error: 'a number of batches' }).int().min(1, 'at least 1 batch').default(2_000),
    /** How long a batch's bodies are kept in Redis when no worker takes them. */
    retentionMs: positiveMs.default(24 * 60 * 60 * 1_000),
    /**
     * Share of time (0 to 1) the gateway's event loop may be busy before
     * mirroring stands aside: shadow work shares the core with live
     * requests, and a saturated gateway serves live requests first. Judged
     * every half second; 1 turns the guard off.
     */
    maxLoopBusy: z.number({ error: 'a share from 0 to 1' }).gt(0, 'a share above 0, up to 1').max(1, 'a share above 0, up to 1').default(0.9)
  }).prefault({}),
  /** Called on every promotion, rollback, pause and deadline. */
  notifications: z.strictObject({
    /** Receives a JSON POST with `text` (for chat tools) and the change's details. */
    webhookUrl: httpUrl.optional(),
    timeoutMs: positiveMs.default(2_000)
  }).prefault({}),
  /** The rollout controller that ramps routes with a plan. */
  controller: z.strictObject({
    /** Take part in deciding (one process decides at a time). */
    enabled: z.boolean({ error: 'true or false' }).default(true),
    /** The leader's lock expires after this; another process takes over within it. */
    leaseMs: positiveMs.default(10_000),
    /** How often routes are looked at; each route is analysed at its plan's interval. */
    tickMs: positiveMs.default(1_000)
  }).prefault({}),
  /** The diff workers. */
  worker: z.strictObject({
    /** Run a diff worker inside `serve` as well (the demo does); production runs `shadowramp worker`. */
    inProcess: z.boolean({ error: 'true or false' }).default(false),
    /**
     * Batches in hand at once per worker process. Judging is done one pair
     * at a time on one core either way; the others are fetched and counted
     * meanwhile. With 2 the worker still waited on Redis about 34 µs per
     * pair, with 3 about 14 (bench:worker), for ~3 MB more held per batch.
     */
    concurrency: z.number({ error: 'a number of batches' }).int().min(1, 'at least 1 batch').default(defaultWorkerConcurrency),
    /**
     * How long a worker holds a batch before another may take it over; a
     * killed worker's batch is retried after about this long.
     */
    lockMs: positiveMs.default(30_000),
    /** Where `shadowramp worker` answers /healthz and /metrics. */
    listen: listenSchema.default({ host: '127.0.0.1', port: 9091 })
  }).prefault({}),
  /** Bounds on what a client may send to the public listener. */
  limits: z.strictObject({
    /** A client that has not sent its whole request head by then is cut off (slow headers). */
    headersTimeoutMs: positiveMs.default(10_000),
    /** A client that has not sent its whole request by then gets 408 (slow bodies). */
    requestTimeoutMs: positiveMs.default(30_000),
    /** Larger request heads get 431. */
    maxHeaderBytes: byteCount.default(16 * 1024)
  }).prefault({}),
  /** Largest request body accepted and buffered (bytes); larger ones get 413. */
  maxRequestBodyBytes: byteCount.default(1024 * 1024),
  routes: z.array(routeSchema, { error: 'a list of routes' })
    .min(1, 'at least one route')
}).superRefine(checkUniqueRoutes)

export type Config = z.infer<typeof configSchema>
export type RouteConfig = z.infer<typeof routeSchema>
export type BackendConfig = z.infer<typeof backendSchema>
export type FallbackConfig = z.infer<typeof fallbackSchema>
export type MirrorConfig = z.infer<typeof mirrorSchema>
export type ShadowConfig = z.infer<typeof configSchema>['shadow']

/** The configured routes' names, for a message about a name that is not among them. */
export function nameRoutes (routes: ReadonlyArray<{ name: string }>): string {
  const names = routes.map((route) => route.name)
  return names.length === 1 ? `one route, ${names[0]}` : `routes ${names.join(', ')}`
}

function isHttpUrl (value: string): boolean {
  if (!URL.canParse(value)) return false

  const { protocol } = new URL(value)

  return protocol === 'http:' || protocol === 'https:'
}

function isHundredth (value: number): boolean {
  return percentagePattern.test(value.toFixed(2)) && Math.abs(value * 100 - Math.round(value * 100)) < 1e-9
}

function hasExactlyOneSource (value: { file?: string | undefined, url?: string | undefined }): boolean {
  return (value.file === undefined) !== (value.url === undefined)
}

function checkUniqueRoutes (config: { routes: Array<{ name: string, paths: string[] }> }, ctx: z.RefinementCtx): void {
  const names = new Set<string>()
  const patterns = new Map<string, string>()

  config.routes.forEach((route, index) => {
    if (names.has(route.name)) {
      ctx.addIssue({ code: 'custom', path: ['routes', index, 'name'], input: route.name, message: 'a route name used only once' })
    }
    names.add(route.name)

    route.paths.forEach((pattern, patternIndex) => {
      const owner = patterns.get(pattern)
      if (owner !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['routes', index, 'paths', patternIndex], input: pattern, message: `a path pattern not already used by route ${owner}` })
      }
      patterns.set(pattern, route.name)
    })
  })
}
