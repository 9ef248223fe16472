import { gzipSync } from 'node:zlib'
import t from 'tap'
import {
  applyDelta, DeltaDecodeError, findDelta, minDeltaBodyBytes, writeDelta, type BodyDelta
} from '../../src/shadow/body-delta.js'

interface Item {
  id: number
  sku: string
  title: string
  badge?: string
  priceCents: number
  currency: string
  tags: string[]
  stock: number
  image?: string
  updatedAt: string
}

interface Feed {
  page: number
  items: Item[]
  cursor: string
}

const words = ['linen', 'shirt', 'oak', 'table', 'blue', 'lamp', 'wool', 'scarf', 'steel', 'kettle', 'cotton', 'towel', 'walnut', 'chair']

/** Deterministic draws below a bound (a 32-bit LCG), so a failing case replays from its seed. */
function drawsFrom (seed: number): (below: number) => number {
  let state = seed >>> 0
  return (below) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    return Math.floor((state / 2 ** 32) * below)
  }
}

function itemOf (id: number, draw: (below: number) => number): Item {
  const pick = (): string => words[draw(words.length)] as string
  return {
    id,
    sku: `SKU-${String(100_000 + draw(900_000))}`,
    title: `${pick()} ${pick()} ${pick()}`,
    priceCents: 1_000 + draw(9_000),
    currency: 'EUR',
    tags: [pick(), pick()],
    stock: draw(500),
    image: `https://cdn.example.test/img/${id}/${draw(1_000_000).toString(36)}.jpg`,
    updatedAt: new Date(Date.UTC(2024, 0, 1) + draw(365) * 86_400_000).toISOString()
  }
}

/** A page of a product feed, as a shopping app's API would answer it. */
function feedOf (items: number, seed: number): Feed {
  const draw = drawsFrom(seed)
  return { page: 1, items: Array.from({ length: items }, (_, id) => itemOf(id, draw)), cursor: 'c-7f3a9e' }
}

/** The feed with one item changed, the others untouched. */
function withItem (feed: Feed, index: number, change: (item: Item) => Item): Feed {
  return { ...feed, items: feed.items.map((item, at) => at === index ? change(item) : item) }
}

function bodyOf (feed: Feed): Buffer {
  return Buffer.from(JSON.stringify(feed))
}

/** The stored form of `body` as a delta from `reference`, or undefined when none is found. */
function storedDelta (reference: Buffer, body: Buffer): Buffer | undefined {
  const delta = findDelta(reference, body)
  if (delta === undefined) return undefined

  const stored = Buffer.alloc(delta.bytes)
  writeDelta(delta, body, stored, 0)
  return stored
}

const feed = feedOf(100, 0xfeed)
const reference = bodyOf(feed)

t.test('the feed the edits start from is a realistic body of about 20 KB', async (t) => {
  t.ok(reference.length > 18_000 && reference.length < 30_000, `${reference.length} bytes`)
})

t.test('an edited body is rebuilt byte for byte from a stored form a fraction of its size', async (t) => {
  // One edit costs at most about a block of equal bytes around it.
  const oneEdit = 1 / 16
  const edits: Array<[string, Buffer, number]> = [
    ['a price changed in place', bodyOf(withItem(feed, 40, (item) => ({ ...item, priceCents: 10_999 - item.priceCents }))), oneEdit],
    ['a title made longer', bodyOf(withItem(feed, 41, (item) => ({ ...item, title: `${item.title} with a matching belt, gift-wrapped` }))), oneEdit],
    ['a title made shorter', bodyOf(withItem(feed, 42, (item) => ({ ...item, title: item.title.slice(0, 3) }))), oneEdit],
    ['a field deleted', bodyOf(withItem(feed, 60, ({ image: _image, ...item }) => item)), oneEdit],
    ['a field inserted', bodyOf(withItem(feed, 30, ({ id, sku, title, ...rest }) => ({ id, sku, title, badge: 'back in stock', ...rest }))), oneEdit],
    ['five edits spread through the body', bodyOf(severalEdits(feed)), 1 / 4],
    ['the page number changed, at the very start', bodyOf({ ...feed, page: 12 }), oneEdit],
    ['a space before the first byte', Buffer.concat([Buffer.from(' '), reference]), oneEdit],
    ['the cursor changed, at the very end', bodyOf({ ...feed, cursor: 'c-00000000001' }), oneEdit],
    ['a newline after the last byte', Buffer.concat([reference, Buffer.from('\n')]), oneEdit]
  ]

  for (const [name, body, share] of edits) {
    t.not(body.compare(reference), 0, `${name}: the body is edited`)
    const stored = storedDelta(reference, body)
    t.ok(stored !== undefined, `${name}: a delta is found`)
    if (stored === undefined) continue

    t.ok(applyDelta(reference, stored).equals(body), `${name}: rebuilt byte for byte`)
    t.ok(stored.length < body.length * share, `${name}: ${stored.length} bytes stored for a ${body.length}-byte body`)
  }
})

/** Five edits spread through the feed: in place, longer, shorter, deleted and inserted. */
function severalEdits (from: Feed): Feed {
  let edited = withItem(from, 5, (item) => ({ ...item, stock: item.stock + 1_000 }))
  edited = withItem(edited, 25, (item) => ({ ...item, title: `${item.title}, limited edition` }))
  edited = withItem(edited, 50, (item) => ({ ...item, tags: [] }))
  edited = withItem(edited, 75, ({ image: _image, ...item }) => item)
  return withItem(edited, 95, (item) => ({ ...item, badge: 'new' }))
}

t.test('items added to or removed from a list are passed over, and the rest of the body is still copied', async (t) => {
  const extra = feedOf(12, 0xadd).items.map((item) => ({ ...item, id: 1_000 + item.id }))
  const added = bodyOf({ ...feed, items: [...feed.items.slice(0, 10), ...extra, ...feed.items.slice(10)] })
  const removed = bodyOf({ ...feed, items: [...feed.items.slice(0, 10), ...feed.items.slice(22)] })
  t.ok(added.length - reference.length > 2_048 && reference.length - removed.length > 2_048, 'both move the rest by over 2 KB')

  for (const [name, body] of [['12 items added', added], ['12 items removed', removed]] as const) {
    const stored = storedDelta(reference, body)
    t.ok(stored !== undefined && applyDelta(reference, stored).equals(body), `${name}: rebuilt`)
    // Written out: what was added, and a block or two around the change.
    const changed = Math.max(0, body.length - reference.length)
    t.ok(stored !== undefined && stored.length < changed + 2_048, `${name}: ${stored?.length} bytes stored`)
  }
})

/** `count` one-byte changes, each in a block of its own, `every` bytes apart. */
function scattered (from: Buffer, count: number, every: number): Buffer {
  const body = Buffer.from(from)
  for (let change = 0; change < count; change++) {
    const at = 100 + change * every
    body[at] = (body[at] as number) === 0x7e ? 0x7d : 0x7e
  }
  return body
}

t.test('a body changed in more places than are worth looking up is stored whole, however much it shares', async (t) => {
  const long = bodyOf(feedOf(500, 0x1019))
  t.ok(long.length > 100_000)
  const fewer = scattered(long, 40, 1_600)
  const more = scattered(long, 60, 1_600)
  const stored = storedDelta(long, fewer)
  t.ok(stored !== undefined && applyDelta(long, stored).equals(fewer), '40 changes: a delta')
  t.equal(findDelta(long, more), undefined, '60 changes, a third of the body written out at most: stored whole')
})

t.test('a body whose first blocks all differ gives up at once, even when its end is shared', async (t) => {
  const draw = drawsFrom(0x0dd)
  const noise = Buffer.from(Array.from({ length: 8 * 512 }, () => draw(256)))
  const body = Buffer.concat([noise, reference.subarray(noise.length)])
  t.equal(findDelta(reference, body), undefined, 'eight changed blocks before anything was copied')
  const shared = Buffer.concat([reference.subarray(0, 8 * 512), noise, reference.subarray(16 * 512)])
  t.ok(findDelta(reference, shared) !== undefined, 'the same changed blocks after as many copied ones: a delta')
})

t.test('in a list of alike items, a change costs one block: the place is found again at the nearest repeat', async (t) => {
  const alike = Buffer.from(JSON.stringify(Array.from({ length: 300 }, (_, id) => ({ id, name: 'item', price: 10, tags: ['a', 'b'], ok: true }))))
  const costly: number[] = []
  for (let change = 0; change < 200; change++) {
    const at = 100 + Math.floor(change * (alike.length - 200) / 200)
    const body = Buffer.from(alike)
    body[at] = body[at] === 0x31 ? 0x32 : 0x31
    const delta = findDelta(alike, body)
    // Its length, a copy, one block of 512 written out, a copy.
    if (delta === undefined || delta.bytes > 4 + 8 + 4 + 512 + 8) costly.push(at)
  }
  t.same(costly, [], 'no change written out as more than one block')
})

t.test('an unchanged body is stored as one copy of the whole reference', async (t) => {
  const delta = findDelta(reference, Buffer.from(reference))
  t.same(delta, { operations: [0, 0, reference.length], bytes: 4 + 8 }, 'its length, then one copy')
})

t.test('the stored form is written where it is told and takes exactly the bytes the delta says', async (t) => {
  const body = bodyOf(severalEdits(feed))
  const delta = findDelta(reference, body)
  if (delta === undefined) return t.fail('a delta is found')

  const target = Buffer.alloc(delta.bytes + 10, 0xee)
  const end = writeDelta(delta, body, target, 3)
  t.equal(end, 3 + delta.bytes, 'it ends where its size says')
  t.same([...target.subarray(0, 3), ...target.subarray(end)], Array<number>(10).fill(0xee), 'nothing written outside it')
  t.ok(applyDelta(reference, target.subarray(3, end)).equals(body))
})

/** A body of about `bytes` bytes of feed items, drawn from `draw`. */
function drawnBody (bytes: number, draw: (below: number) => number): Buffer {
  const parts: string[] = []
  let length = 0
  for (let id = 0; length < bytes; id++) {
    const part = JSON.stringify(itemOf(id, draw))
    parts.push(part)
    length += part.length + 1
  }
  return Buffer.from(parts.join(',')).subarray(0, bytes)
}

/**
 * Up to 12 random edits: bytes inserted, deleted or replaced, 0 to 600 at a
 * time, the bytes put in either drawn afresh or repeated from elsewhere in
 * the body (so the anchor has look-alikes to be fooled by).
 */
function drawnEdits (reference: Buffer, draw: (below: number) => number): Buffer {
  let body = reference
  const edits = 1 + draw(12)
  for (let edit = 0; edit < edits; edit++) {
    const at = draw(body.length + 1)
    const kind = draw(3)
    const removed = kind === 0 ? 0 : Math.min(draw(601), body.length - at)
    const added = kind === 1 ? 0 : draw(601)
    const from = draw(Math.max(1, body.length - added))
    const inserted = draw(2) === 0
      ? Buffer.from(Array.from({ length: added }, () => 32 + draw(95)))
      : Buffer.from(body.subarray(from, from + added))
    body = Buffer.concat([body.subarray(0, at), inserted, body.subarray(at + removed)])
  }

  return body
}

/** What is wrong with a delta found for `body`, if anything. */
function faultOf (reference: Buffer, body: Buffer, delta: BodyDelta): string | undefined {
  const target = Buffer.alloc(delta.bytes + 8, 0xee)
  const end = writeDelta(delta, body, target, 4)
  if (end !== 4 + delta.bytes) return `writes ${end - 4} bytes, says ${delta.bytes}`
  const margins = [target.readUInt32BE(0), target.readUInt32BE(end)]
  if (margins.some((margin) => margin !== 0xeeee_eeee)) return 'writes outside its place'
  if (delta.bytes > body.length / 2) return `${delta.bytes} bytes for a ${body.length}-byte body`

  return applyDelta(reference, target.subarray(4, end)).equals(body) ? undefined : 'not rebuilt'
}

t.test('over 300 seeded random edits, every delta found rebuilds its body and takes the bytes it says', async (t) => {
  const draw = drawsFrom(0x5eed_0001)
  const failures: string[] = []
  let found = 0
  for (let index = 0; index < 300; index++) {
    const reference = drawnBody(2_048 + draw(60_000 - 2_048), draw)
    const body = drawnEdits(reference, draw)
    const delta = findDelta(reference, body)
    if (delta === undefined) continue

    found++
    const fault = faultOf(reference, body, delta)
    if (fault !== undefined) failures.push(`case ${index}: ${fault}`)
  }

  t.same(failures, [])
  t.ok(found >= 100, `a delta was found for ${found} of 300 bodies, enough for the checks to mean something`)
})

t.test('a body too small to gain from a delta is stored whole', async (t) => {
  const large = reference.subarray(0, minDeltaBodyBytes)
  const small = reference.subarray(0, minDeltaBodyBytes - 1)
  t.ok(findDelta(large, large) !== undefined, `at ${minDeltaBodyBytes} bytes a delta is found`)
  t.equal(findDelta(reference, small), undefined, 'a body one byte smaller')
  t.equal(findDelta(small, reference.subarray(0, 3_000)), undefined, 'a reference one byte smaller')
})

t.test('a body that shares little with the reference is stored whole', async (t) => {
  const draw = drawsFrom(0xbad)
  const noise = Buffer.from(Array.from({ length: reference.length }, () => draw(256)))
  t.equal(findDelta(reference, noise), undefined, 'random bytes')
  t.equal(findDelta(reference, bodyOf(feedOf(100, 0xd1ff))), undefined, 'another feed of the same shape')

  // The same edit found uncompressed is lost once both bodies are gzipped:
  // every byte of the compressed stream after it moves.
  const edited = bodyOf(withItem(feed, 2, (item) => ({ ...item, title: `${item.title} and more` })))
  t.ok(findDelta(reference, edited) !== undefined, 'uncompressed, the edit is found')
  t.equal(findDelta(gzipSync(reference), gzipSync(edited)), undefined, 'gzipped, it is not')
})

/** A stored delta written by hand: the body's length, then the operations. */
function storedOf (bodyLength: number, ...operations: Buffer[]): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bodyLength, 0)
  return Buffer.concat([length, ...operations])
}

/** One operation of a stored delta, written by hand. */
function copyOf (start: number, length: number): Buffer {
  const operation = Buffer.alloc(8)
  operation.writeUInt32BE((0x8000_0000 | length) >>> 0, 0)
  operation.writeUInt32BE(start, 4)
  return operation
}

function literalOf (text: string, length = Buffer.byteLength(text)): Buffer {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(length, 0)
  return Buffer.concat([header, Buffer.from(text)])
}

t.test('a stored delta written by hand is read as the format says', async (t) => {
  const reference = Buffer.from('0123456789'.repeat(10))
  const stored = storedOf(13, copyOf(10, 5), literalOf('abc'), copyOf(95, 5), literalOf(''))
  t.equal(applyDelta(reference, stored).toString(), '01234abc56789')
  t.equal(applyDelta(reference, storedOf(0)).length, 0, 'no operations, an empty body')
})

t.test('a damaged delta is a DeltaDecodeError saying what is wrong, not a crash or a wrong body', async (t) => {
  const reference = Buffer.from('0123456789'.repeat(10))
  const copy = copyOf(0, 10)
  const cases: Array<[string, Buffer, RegExp]> = [
    ['no room for its length', Buffer.alloc(3), /^delta cut short before its length$/],
    ['cut short in a copy\'s second word', storedOf(13, literalOf('abc'), copy.subarray(0, 6)),
      /^delta cut short at byte 11$/],
    ['cut short in a copy\'s first word', storedOf(13, literalOf('abc'), copy.subarray(0, 2)),
      /^delta cut short at byte 11$/],
    ['cut short in the bytes written out', storedOf(30, copy, literalOf('short', 20)),
      /^delta cut short in the bytes written out at byte 12$/],
    ['a copy past the reference\'s end', storedOf(30, copy, copyOf(90, 20)),
      /^delta copies bytes 90.110 of a 100-byte reference$/],
    ['a copy starting past the end', storedOf(0, copyOf(200, 0)),
      /^delta copies bytes 200.200 of a 100-byte reference$/],
    ['a copy of the largest length', storedOf(10, copyOf(0, 0x7fff_ffff)),
      /^delta copies bytes 0.2147483647 of a 100-byte reference$/],
    ['operations missing at the end', storedOf(20, copy),
      /^delta rebuilds 10 bytes of a 20-byte body$/],
    ['operations beyond its length', storedOf(5, copy),
      /^delta rebuilds 10 bytes of a 5-byte body$/]
  ]

  for (const [name, stored, message] of cases) {
    const error = thrownBy(() => applyDelta(reference, stored))
    t.ok(error instanceof DeltaDecodeError, `${name}: a DeltaDecodeError`)
    t.equal(error?.name, 'DeltaDecodeError', `${name}: named so across the queue`)
    t.match(error?.message, message, name)
  }
})

function thrownBy (action: () => unknown): Error | undefined {
  try {
    action()
  } catch (error) {
    return error as Error
  }
  return undefined
}

t.test('a real delta cut anywhere throws rather than rebuilding part of the body', async (t) => {
  const body = bodyOf(severalEdits(feed))
  const delta = findDelta(reference, body)
  if (delta === undefined) return t.fail('a delta is found')
  const stored = Buffer.alloc(delta.bytes)
  writeDelta(delta, body, stored, 0)
  t.ok(applyDelta(reference, stored).equals(body), 'whole, it rebuilds the body')

  const unnoticed: number[] = []
  for (let cut = 0; cut < stored.length; cut++) {
    if (!(thrownBy(() => applyDelta(reference, stored.subarray(0, cut))) instanceof DeltaDecodeError)) unnoticed.push(cut)
  }
  t.same(unnoticed, [], 'every cut is a DeltaDecodeError')
})
