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
}

export function createKeys (namespace: string): Keys {
  const shared = `{${namespace}}`

  return {
    namespace,
    rolloutState: `${shared}:rollout:state`,
    rolloutChanges: `${shared}:rollout:changes`
  }
}

/** The pattern matching every key of a namespace, for SCAN. */
export function namespacePattern (namespace: string): string {
  return `{${namespace}}*`
}
