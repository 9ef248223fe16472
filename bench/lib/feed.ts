/**
 * The realistic upstream's answer: one page of a shopping app's video feed,
 * built from a fixed seed so every run and every process sends the same
 * bytes. Nothing here reads a clock or the network.
 */

export interface FeedOptions {
  /** Smallest size of the encoded page in bytes; items are added until it is reached. */
  minBytes?: number
  /** Change a handful of fields, as a candidate that almost agrees would. */
  withDifferences?: boolean
}

type Random = () => number

const defaultMinBytes = 20_000
const firstPublishedAt = Date.UTC(2024, 10, 1, 8, 0, 0)

const adjectives = ['Cozy', 'Minimal', 'Budget', 'Luxe', 'Vintage', 'Smart', 'Tiny', 'Bold']
const subjects = [
  'desk setup', 'autumn haul', 'kitchen tools', 'running kit', 'skincare shelf', 'travel bag'
]
const productNames = [
  'Linen throw', 'Ceramic mug', 'Desk lamp', 'Trail shoe', 'Serum 30 ml', 'Packing cube'
]
const tagWords = [
  'haul', 'review', 'unboxing', 'deal', 'howto', 'home', 'style', 'tech', 'outdoor'
]

/** The feed as a value; JSON-encode it once and serve the bytes. */
export function buildFeed (options: FeedOptions = {}): Record<string, unknown> {
  const random = createRandom(0x5eed)
  const items: Array<Record<string, unknown>> = []
  const minBytes = options.minBytes ?? defaultMinBytes
  const feed = { feed: 'videos', locale: 'en-GB', items, cursor: { next: '', hasMore: true } }

  while (Buffer.byteLength(JSON.stringify(feed)) < minBytes) {
    items.push(buildItem(items.length, random))
    feed.cursor.next = `c-${items.length}`
  }
  if (options.withDifferences === true) applyDifferences(items)

  return feed
}

/** The encoded page, as the upstream sends it. */
export function encodeFeed (options: FeedOptions = {}): Buffer {
  return Buffer.from(JSON.stringify(buildFeed(options)))
}

function buildItem (index: number, random: Random): Record<string, unknown> {
  const id = `v${(1_000_003 + index * 7_919).toString(36)}`
  const creatorId = 40_000 + Math.floor(random() * 9_000)
  const productCount = 1 + Math.floor(random() * 3)

  return {
    id,
    type: 'video',
    position: index,
    title: `${pick(adjectives, random)} ${pick(subjects, random)} #${index + 1}`,
    creator: {
      id: creatorId,
      handle: `@maker${creatorId}`,
      verified: random() < 0.3,
      avatar: { url: `https://cdn.example.com/a/${creatorId}.webp`, width: 96, height: 96 }
    },
    video: buildVideo(id, random),
    products: Array.from({ length: productCount }, (_, slot) => buildProduct(index, slot, random)),
    stats: buildStats(random),
    tags: Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick(tagWords, random)),
    publishedAt: new Date(firstPublishedAt + index * 3_600_000).toISOString()
  }
}

function buildVideo (id: string, random: Random): Record<string, unknown> {
  return {
    url: `https://cdn.example.com/v/${id}/master.m3u8`,
    durationMs: 8_000 + Math.floor(random() * 52_000),
    width: 1080,
    height: 1920,
    thumbnails: [
      { url: `https://cdn.example.com/t/${id}-s.jpg`, width: 180, height: 320 },
      { url: `https://cdn.example.com/t/${id}-l.jpg`, width: 540, height: 960 }
    ]
  }
}

function buildProduct (index: number, slot: number, random: Random): Record<string, unknown> {
  const cents = 499 + Math.floor(random() * 20_000)

  return {
    sku: `SKU-${index}-${slot}-${Math.floor(random() * 1e6)}`,
    name: pick(productNames, random),
    price: { amount: cents / 100, currency: 'EUR' },
    discountPercent: random() < 0.4 ? 10 + Math.floor(random() * 40) : null,
    inStock: random() < 0.85
  }
}

function buildStats (random: Random): Record<string, number> {
  const views = Math.floor(random() * 2_000_000)

  return {
    views,
    likes: Math.floor(views * random() * 0.1),
    comments: Math.floor(views * random() * 0.01),
    shares: Math.floor(views * random() * 0.005)
  }
}

/**
 * The kinds of difference a migration really produces: a changed price, a
 * reworded title, a missing field, an extra field and a number turned into
 * a string. Fixed positions keep the two answers comparable run to run.
 */
function applyDifferences (items: Array<Record<string, unknown>>): void {
  const at = (position: number): Record<string, unknown> => items[position % items.length] ?? {}
  const price = (at(1).products as Array<{ price: { amount: number } }>)[0]?.price
  if (price !== undefined) price.amount = Math.round(price.amount * 100 + 100) / 100

  at(4).title = `${String(at(4).title)} (new)`
  delete (at(7).stats as Record<string, number>).shares
  at(10).badge = 'trending'
  const creator = at(13).creator as { id: number | string }
  creator.id = String(creator.id)
}

function pick<T> (values: readonly T[], random: Random): T {
  return values[Math.floor(random() * values.length)] as T
}

/** A small linear congruential generator: deterministic, good enough for test data. */
function createRandom (seed: number): Random {
  let state = seed >>> 0

  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}
