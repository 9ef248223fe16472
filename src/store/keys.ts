/**
 * Every Redis key and channel name shadowramp uses, in one place.
 *
 * Keys are hash-tagged (`{namespace}` for shared state) so that the keys a
 * single operation touches land on one slot of a Redis Cluster.
 */
export interface Keys {
  namespace: string
  /** Hash: route name → JSON rollout state. */
  rolloutState: string
  /** Channel: a route name is published whenever its rollout state changes. */
  rolloutChanges: string
  /** BullMQ prefix of the queue of pairs (keys `{namespace}:<queue>:…`). */
  queuePrefix: string
  /** Name of the BullMQ queue carrying batches of pairs. */
  pairQueue: string
  /** String: the encoded pairs of one batch, removed once a worker counted them. */
  pairBatch: (batchId: string) => string
  /** Hash: route → JSON of the shadow budget guard's state, written by each gateway. */
  shadowGuard: string
}

export function createKeys (namespace: string): Keys {
  const shared = `{${namespace}}`

  return {
    namespace,
    rolloutState: `${shared}:rollout:state`,
    rolloutChanges: `${shared}:rollout:changes`,
    queuePrefix: shared,
    pairQueue: 'pairs',
    pairBatch: (batchId) => `${shared}:pair-batch:${batchId}`,
    shadowGuard: `${shared}:shadow:guard`
  }
}

/** The pattern matching every key of a namespace, for SCAN. */
export function namespacePattern (namespace: string): string {
  return `{${namespace}}*`
}
