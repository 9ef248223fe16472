/**
 * Every Redis key and channel name shadowramp uses, in one place.
 *
 * Keys are hash-tagged so that the keys a single operation touches land on
 * one slot of a Redis Cluster: `{namespace}` for shared state and the
 * queue, `{namespace:route}` for a route's figures, so routes spread over
 * the cluster's nodes.
 */
export interface Keys {
  namespace: string
  /** Hash: route name → JSON rollout state. */
  rolloutState: string
  /** Channel: a route name is published whenever its rollout state changes. */
  rolloutChanges: string
  /** List: a route's rollout history, newest first, bounded. */
  rolloutHistory: (route: string) => string
  /** String: the id of the process whose controller decides, with an expiry. */
  controllerLeader: string
  /** Hash: a route's live figures for one time bucket, added up by every gateway. */
  liveBucket: (route: string, bucket: number) => string
  /** BullMQ prefix of the queue of pairs (keys `{namespace}:<queue>:…`). */
  queuePrefix: string
  /** Name of the BullMQ queue carrying batches of pairs. */
  pairQueue: string
  /** String: one batch of pairs (see pair-codec.ts), removed once a worker counted them. */
  pairBatch: (batchId: string) => string
  /** Hash: route → JSON of the shadow budget guard's state, written by each gateway. */
  shadowGuard: string
  /** Hash: a route's diff figures for one time bucket. */
  diffBucket: (route: string, bucket: number) => string
  /** List: recent example pairs of one path and kind of divergence, newest first. */
  diffExamples: (route: string, kind: string, path: string) => string
  /** String: set once a batch's pairs of a route are counted, so a retry is not. */
  countedMark: (route: string, batchId: string) => string
  /** Hash: samples, and per class and path how often two baseline answers differed there. */
  noiseModel: (route: string) => string
  /** Hash: ignore rule pattern → JSON of a person's decision to accept or reject it. */
  ignoreRules: (route: string) => string
}

export function createKeys (namespace: string): Keys {
  const shared = `{${namespace}}`

  return {
    namespace,
    rolloutState: `${shared}:rollout:state`,
    rolloutChanges: `${shared}:rollout:changes`,
    // Same slot as the state hash: both are written by one script.
    rolloutHistory: (route) => `${shared}:rollout:history:${route}`,
    controllerLeader: `${shared}:controller:leader`,
    liveBucket: (route, bucket) => `{${namespace}:${route}}:live:${bucket}`,
    queuePrefix: shared,
    pairQueue: 'pairs',
    pairBatch: (batchId) => `${shared}:pair-batch:${batchId}`,
    shadowGuard: `${shared}:shadow:guard`,
    // A route's figures share one slot, so one script can update them all.
    diffBucket: (route, bucket) => `{${namespace}:${route}}:diff:${bucket}`,
    diffExamples: (route, kind, path) => `{${namespace}:${route}}:examples:${kind}:${path}`,
    countedMark: (route, batchId) => `{${namespace}:${route}}:counted:${batchId}`,
    noiseModel: (route) => `{${namespace}:${route}}:noise`,
    ignoreRules: (route) => `{${namespace}:${route}}:ignore-rules`
  }
}

/** The pattern matching every key of a namespace, for SCAN. */
export function namespacePattern (namespace: string): string {
  return `{${namespace}[}:]*`
}
