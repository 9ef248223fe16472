/**
 * Sticky buckets: a key (a user id, a cookie, a client address) salted with
 * the route name falls in one of 10,000 buckets. The candidate serves the
 * buckets below percentage × 100, so raising the percentage only ever moves
 * users from the baseline to the candidate, and 0 and 100 mean none and all.
 */

export const bucketCount = 10_000

/** Bucket of a key on a route, from 0 to 9,999. */
export function stickyBucket (route: string, key: string): number {
  return hashString(`${route}\u0000${key}`) % bucketCount
}

/** A bucket for a request without a key: a fresh random draw each time. */
export function randomBucket (): number {
  return Math.floor(Math.random() * bucketCount)
}

export function inCandidateShare (bucket: number, percentage: number): boolean {
  return bucket < Math.round(percentage * 100)
}

/**
 * FNV-1a over UTF-16 code units, then murmur3's finalizer so that keys
 * differing in one character still spread over every bucket.
 */
export function hashString (text: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }

  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16

  return hash >>> 0
}
