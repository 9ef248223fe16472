import type { RedisClient } from './redis-connection.js'
import type { Keys } from './keys.js'
import { defineScript, runScript } from './lua-script.js'
import { emptyLatencyCounts, estimateQuantile, latencyBucket, type LatencyCounts } from './latency-histogram.js'

/** Aggregates are kept per route in buckets of this many milliseconds. */
export const bucketMs = 10_000
/** How long a bucket, an example or a noise reading is kept. */
export const retentionMs = 24 * 60 * 60 * 1_000
/** A batch's mark that it was counted; longer than any retry of a stalled batch takes. */
const countedMarkMs = 60 * 60 * 1_000
/** Example pairs kept per field path and kind. */
export const examplesPerPath = 5

export type PairVerdictKind = 'identical' | 'diverging' | 'status-mismatch' | 'noise-only' | 'not-comparable'

/** What one pair adds to its route's figures. */
export interface PairRecord {
  capturedAt: number
  verdict: PairVerdictKind
  /** Divergences, one per collapsed path and kind. */
  differences: Array<{ path: string, kind: string }>
  /** Paths a normalization rule explained. */
  ignored: string[]
  /** Paths explained as noise. */
  noise: string[]
  notComparable?: string
  statuses?: { baseline: number, candidate: number }
  baselineLatencyMs?: number
  candidateLatencyMs?: number
  /** Paths where two baseline answers differed, and how, when the pair carried a repeat. */
  noiseSample?: Array<{ path: string, noiseClass: string }>
  /** A redacted example of this pair, kept for each of its divergences. */
  example?: string
}

export interface PathCount {
  path: string
  count: number
}

export interface DivergenceReport {
  route: string
  from: number
  to: number
  pairs: number
  /** Pairs whose answers could be compared (all but the not comparable). */
  compared: number
  identical: number
  diverging: number
  statusMismatch: number
  noiseOnly: number
  notComparable: number
  /** Pairs with at least one difference a rule explained. */
  withIgnored: number
  /** Diverging and status-mismatched pairs over compared pairs; null with none compared. */
  divergenceRate: number | null
  paths: Array<PathCount & { kind: string }>
  ignoredPaths: PathCount[]
  noisePaths: PathCount[]
  /** Pairs that carried a second baseline answer, and the paths that differed between the two. */
  noiseSamples: number
  noisyPaths: PathCount[]
  reasons: Array<{ reason: string, count: number }>
  statuses: Array<{ baseline: number, candidate: number, count: number }>
  latency: { baseline: LatencySummary, candidate: LatencySummary }
}

export interface LatencySummary {
  count: number
  p50Ms: number | undefined
  p99Ms: number | undefined
}

const verdictFields: Record<PairVerdictKind, string> = {
  identical: 'identical',
  diverging: 'diverging',
  'status-mismatch': 'statusMismatch',
  'noise-only': 'noiseOnly',
  'not-comparable': 'notComparable'
}

/*
 * Applies one batch's increments for one route, once: the batch's counted
 * mark and the increments go in the same script, so a batch a worker
 * retries after a crash is never counted twice.
 * KEYS[1]: the counted mark; KEYS[2..]: keys the operations name.
 * ARGV: mark ttl, data ttl, JSON [[key index, 'h', field, n] | [key index, 'l', value, keep]].
 */
const applyScript = defineScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
for _, op in ipairs(cjson.decode(ARGV[3])) do
  local key = KEYS[op[1]]
  if op[2] == 'h' then
    redis.call('HINCRBY', key, op[3], op[4])
  else
    redis.call('LPUSH', key, op[3])
    redis.call('LTRIM', key, 0, op[4] - 1)
  end
end
for index = 2, #KEYS do redis.call('PEXPIRE', KEYS[index], ARGV[2]) end
return 1
`)

type Operation = [number, 'h', string, number] | [number, 'l', string, number]

/**
 * Adds a batch's pairs to one route's figures, exactly once per batch id.
 * Returns false when this batch was already counted.
 */
export async function recordPairs (redis: RedisClient, keys: Keys, route: string, batchId: string, records: PairRecord[]): Promise<boolean> {
  const plan = new OperationPlan()
  for (const record of records) addRecord(plan, keys, route, record)

  const applied = await runScript(redis, applyScript, [keys.countedMark(route, batchId), ...plan.keys],
    [countedMarkMs, retentionMs, JSON.stringify(plan.operations)])
  return applied === 1
}

/** A route's figures summed over the buckets that overlap [from, to). */
export async function readDivergence (redis: RedisClient, keys: Keys, route: string, from: number, to: number): Promise<DivergenceReport> {
  const pipeline = redis.pipeline()
  for (let bucket = Math.floor(from / bucketMs); bucket * bucketMs < to; bucket++) {
    pipeline.hgetall(keys.diffBucket(route, bucket))
  }
  const replies = (await pipeline.exec()) ?? []
  const sums = new Map<string, number>()
  for (const [error, fields] of replies) {
    if (error !== null) throw error
    for (const [field, value] of Object.entries(fields as Record<string, string>)) sums.set(field, (sums.get(field) ?? 0) + Number(value))
  }

  return summarize(route, from, to, sums)
}

/**
 * The start of the latest bucket starting in [from, to) that holds pairs
 * of a route, or undefined. One round trip: an EXISTS per bucket, which
 * costs less than the HGETALL per bucket of a report over the same range.
 */
export async function findLatestPairs (
  redis: RedisClient, keys: Keys, route: string, from: number, to: number
): Promise<number | undefined> {
  const newest = Math.ceil(to / bucketMs) - 1
  const oldest = Math.ceil(from / bucketMs)
  if (newest < oldest) return undefined

  const pipeline = redis.pipeline()
  for (let bucket = newest; bucket >= oldest; bucket--) pipeline.exists(keys.diffBucket(route, bucket))
  const replies = (await pipeline.exec()) ?? []
  for (const [index, [error, found]] of replies.entries()) {
    if (error !== null) throw error
    if (found === 1) return (newest - index) * bucketMs
  }

  return undefined
}

/** The latest example pairs kept for one path and kind, newest first. */
export async function readExamples (redis: RedisClient, keys: Keys, route: string, kind: string, path: string): Promise<string[]> {
  return await redis.lrange(keys.diffExamples(route, kind, path), 0, examplesPerPath - 1)
}

function addRecord (plan: OperationPlan, keys: Keys, route: string, record: PairRecord): void {
  const bucket = keys.diffBucket(route, Math.floor(record.capturedAt / bucketMs))
  plan.add(bucket, 'pairs')
  plan.add(bucket, verdictFields[record.verdict])
  if (record.verdict !== 'not-comparable') plan.add(bucket, 'compared')
  if (record.ignored.length > 0) plan.add(bucket, 'withIgnored')
  for (const { path, kind } of record.differences) plan.add(bucket, `path:${kind}:${path}`)
  for (const path of record.ignored) plan.add(bucket, `ignored:${path}`)
  for (const path of record.noise) plan.add(bucket, `noise:${path}`)
  if (record.notComparable !== undefined) plan.add(bucket, `reason:${record.notComparable}`)
  if (record.statuses !== undefined) plan.add(bucket, `status:${record.statuses.baseline}:${record.statuses.candidate}`)
  if (record.baselineLatencyMs !== undefined) plan.add(bucket, `lb:${latencyBucket(record.baselineLatencyMs)}`)
  if (record.candidateLatencyMs !== undefined) plan.add(bucket, `lc:${latencyBucket(record.candidateLatencyMs)}`)
  if (record.noiseSample !== undefined) {
    const model = keys.noiseModel(route)
    plan.add(bucket, 'noiseSamples')
    plan.add(model, 'samples')
    for (const { path, noiseClass } of record.noiseSample) {
      plan.add(bucket, `noisy:${path}`)
      plan.add(model, `${noiseClass}:${path}`)
    }
  }
  if (record.example !== undefined) {
    for (const { path, kind } of examplePlaces(record)) plan.push(keys.diffExamples(route, kind, path), record.example)
  }
}

/** Where a pair's example is filed: under each divergence, or under `@status` for a status alone. */
export function examplePlaces (record: Pick<PairRecord, 'differences' | 'statuses'>): Array<{ path: string, kind: string }> {
  if (record.differences.length > 0 || record.statuses === undefined) return record.differences

  return [{ path: statusPath, kind: 'changed' }]
}

/** The path examples of a status mismatch without other differences are filed under. */
export const statusPath = '@status'

/** Collects increments by key and field, so a batch sends each once. */
class OperationPlan {
  readonly keys: string[] = []
  readonly #index = new Map<string, number>()
  readonly #counts = new Map<string, Map<string, number>>()
  readonly #pushes: Array<[string, string]> = []

  add (key: string, field: string, count = 1): void {
    const fields = this.#counts.get(key) ?? new Map<string, number>()
    this.#counts.set(key, fields)
    fields.set(field, (fields.get(field) ?? 0) + count)
    this.#keyIndex(key)
  }

  push (key: string, value: string): void {
    this.#pushes.push([key, value])
    this.#keyIndex(key)
  }

  get operations (): Operation[] {
    const operations: Operation[] = []
    for (const [key, fields] of this.#counts) {
      for (const [field, count] of fields) operations.push([this.#keyIndex(key), 'h', field, count])
    }
    for (const [key, value] of this.#pushes) operations.push([this.#keyIndex(key), 'l', value, examplesPerPath])

    return operations
  }

  /** 1-based Lua index of a key, KEYS[1] being the counted mark. */
  #keyIndex (key: string): number {
    let index = this.#index.get(key)
    if (index === undefined) {
      this.keys.push(key)
      index = this.keys.length + 1
      this.#index.set(key, index)
    }

    return index
  }
}

function summarize (route: string, from: number, to: number, sums: Map<string, number>): DivergenceReport {
  const count = (field: string): number => sums.get(field) ?? 0
  const compared = count('compared')
  const diverging = count('diverging')
  const statusMismatch = count('statusMismatch')

  return {
    route,
    from,
    to,
    pairs: count('pairs'),
    compared,
    identical: count('identical'),
    diverging,
    statusMismatch,
    noiseOnly: count('noiseOnly'),
    notComparable: count('notComparable'),
    withIgnored: count('withIgnored'),
    divergenceRate: compared === 0 ? null : (diverging + statusMismatch) / compared,
    paths: collect(sums, 'path:').map(({ key, count }) => {
      const separator = key.indexOf(':')
      return { kind: key.slice(0, separator), path: key.slice(separator + 1), count }
    }),
    ignoredPaths: collect(sums, 'ignored:').map(({ key, count }) => ({ path: key, count })),
    noisePaths: collect(sums, 'noise:').map(({ key, count }) => ({ path: key, count })),
    noiseSamples: count('noiseSamples'),
    noisyPaths: collect(sums, 'noisy:').map(({ key, count }) => ({ path: key, count })),
    reasons: collect(sums, 'reason:').map(({ key, count }) => ({ reason: key, count })),
    statuses: collect(sums, 'status:').map(({ key, count }) => {
      const [baseline, candidate] = key.split(':').map(Number)
      return { baseline: baseline ?? 0, candidate: candidate ?? 0, count }
    }),
    latency: { baseline: summarizeLatency(sums, 'lb:'), candidate: summarizeLatency(sums, 'lc:') }
  }
}

/** Fields under a prefix, most frequent first. */
function collect (sums: Map<string, number>, prefix: string): Array<{ key: string, count: number }> {
  const found: Array<{ key: string, count: number }> = []
  for (const [field, count] of sums) {
    if (field.startsWith(prefix)) found.push({ key: field.slice(prefix.length), count })
  }

  return found.sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
}

function summarizeLatency (sums: Map<string, number>, prefix: string): LatencySummary {
  const counts: LatencyCounts = emptyLatencyCounts()
  for (let index = 0; index < counts.length; index++) counts[index] = sums.get(`${prefix}${index}`) ?? 0

  return {
    count: counts.reduce((sum, count) => sum + count, 0),
    p50Ms: estimateQuantile(counts, 0.5),
    p99Ms: estimateQuantile(counts, 0.99)
  }
}

/** What repeated baseline answers showed for a route, in the diff core's shape. */
export interface StoredNoiseModel {
  samples: number
  paths: Record<string, { value: number, presence: number }>
}

export async function readNoiseModel (redis: RedisClient, keys: Keys, route: string): Promise<StoredNoiseModel> {
  const fields = await redis.hgetall(keys.noiseModel(route))
  const model: StoredNoiseModel = { samples: Number(fields.samples ?? 0), paths: {} }
  for (const [field, value] of Object.entries(fields)) {
    const separator = field.indexOf(':')
    const noiseClass = field.slice(0, separator)
    if (noiseClass !== 'value' && noiseClass !== 'presence') continue

    const path = field.slice(separator + 1)
    const counts = Object.hasOwn(model.paths, path) ? model.paths[path] as { value: number, presence: number } : { value: 0, presence: 0 }
    counts[noiseClass] = Number(value)
    Object.defineProperty(model.paths, path, { value: counts, enumerable: true, writable: true, configurable: true })
  }

  return model
}
