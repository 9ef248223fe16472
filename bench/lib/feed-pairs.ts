/**
 * Pairs as a gateway captures them from the realistic feed: the baseline
 * answers with the feed, the candidate with the variant that differs in
 * five fields. Each variant renames the feed's items, so no two pairs of
 * a set carry the same bytes, while baseline and candidate of one pair
 * still differ in those five fields only. Nothing here reads a clock.
 */
import type { CapturedResponse, Pair } from '../../src/shadow/pair.js'
import { buildFeed } from './feed.js'

/** The two answers of one pair, encoded as the backends send them. */
export interface FeedPairBodies {
  baseline: Buffer
  candidate: Buffer
}

interface FeedItem {
  id: string
  video: { url: string, thumbnails: Array<{ url: string }> }
}

const jsonHeaders = { 'content-type': 'application/json; charset=utf-8' }
const requestHeaders = { accept: 'application/json' }

/** `count` distinct pairs of bodies; building 256 takes about 0.1 s. */
export function buildFeedPairBodies (count: number): FeedPairBodies[] {
  const baseline = buildFeed()
  const candidate = buildFeed({ withDifferences: true })
  const bodies: FeedPairBodies[] = []
  for (let variant = 0; variant < count; variant++) {
    bodies.push({
      baseline: encodeVariant(baseline, variant),
      candidate: encodeVariant(candidate, variant)
    })
  }

  return bodies
}

/**
 * The feed with every item id (and the media URLs that embed it) given
 * the variant's suffix. The feed is copied first: both sides of a pair
 * start from their own untouched value.
 */
function encodeVariant (feed: Record<string, unknown>, variant: number): Buffer {
  const copy = structuredClone(feed) as { items: FeedItem[], cursor: { next: string } }
  const suffix = `-${variant.toString(36)}`
  for (const item of copy.items) {
    const renamed = item.id + suffix
    item.video.url = item.video.url.replace(item.id, renamed)
    for (const thumbnail of item.video.thumbnails) {
      thumbnail.url = thumbnail.url.replace(item.id, renamed)
    }
    item.id = renamed
  }
  copy.cursor.next += suffix

  return Buffer.from(JSON.stringify(copy))
}

/**
 * A pair of the route `route` carrying the given bodies. The id must be
 * unique: the first pair's id names its batch, and a batch id seen twice
 * is refused by the queue.
 */
export function makeFeedPair (
  bodies: FeedPairBodies, id: string, route: string, capturedAt: number
): Pair {
  return {
    id,
    route,
    capturedAt,
    live: 'baseline',
    request: { method: 'GET', path: '/feed/videos', query: 'limit=20', headers: requestHeaders },
    baseline: captured(bodies.baseline, 12),
    candidate: captured(bodies.candidate, 9),
    bodiesIdentical: false
  }
}

function captured (body: Buffer, latencyMs: number): CapturedResponse {
  return { status: 200, headers: jsonHeaders, body, bodyBytes: body.length, latencyMs }
}
