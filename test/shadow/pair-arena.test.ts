import t from 'tap'
import { PairArena, type ArenaSpan } from '../../src/shadow/pair-arena.js'

/** A body whose every byte says which body it is, so an overwrite shows. */
function filled (bytes: number, mark: number): Buffer {
  return Buffer.alloc(bytes, mark % 251)
}

/** Deterministic draws, so a failure can be replayed. */
function draws (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

t.test('bodies are copied next to each other and read back as given', async (t) => {
  const arena = new PairArena(100)
  const first = Buffer.from('{"a":1}')
  const second = Buffer.from('{"b":22}')
  const span = arena.take([first, second])

  t.ok(span !== undefined)
  t.same(span?.bodies.map(String), ['{"a":1}', '{"b":22}'])
  t.equal(span?.charged, first.length + second.length)
  t.equal(span?.bodies[1]?.byteOffset, (span?.bodies[0]?.byteOffset ?? 0) + first.length, 'the second body follows the first')
  first.fill(0)
  t.equal(String(span?.bodies[0]), '{"a":1}', 'the arena holds a copy, not the captured buffer')
})

t.test('what does not fit is refused, and fits again once the oldest spans are released', async (t) => {
  const arena = new PairArena(100)
  t.equal(arena.take([filled(101, 1)]), undefined, 'larger than the whole arena')
  const first = arena.take([filled(60, 1)])
  t.equal(arena.take([filled(50, 2)]), undefined, '60 + 50 bytes do not fit in 100')
  const second = arena.take([filled(40, 3)])
  t.equal(arena.used, 100)
  t.equal(arena.take([filled(1, 4)]), undefined, 'nothing fits a full arena')

  arena.release(first?.charged ?? 0)
  const third = arena.take([filled(50, 5)])
  t.equal(third?.bodies[0]?.byteOffset, first?.bodies[0]?.byteOffset, 'the freed start of the ring is used again')
  t.ok(second?.bodies[0]?.equals(filled(40, 3)), 'the span still held is untouched')
})

t.test('a span that does not fit at the end of the ring starts over at its beginning, charged for the end it skipped', async (t) => {
  const arena = new PairArena(100)
  const first = arena.take([filled(40, 1)])
  const second = arena.take([filled(40, 2)])
  arena.release(first?.charged ?? 0)

  const wrapped = arena.take([filled(30, 3)])
  t.equal(wrapped?.bodies[0]?.byteOffset, first?.bodies[0]?.byteOffset, 'placed where the first span was')
  t.equal(wrapped?.charged, 20 + 30, 'the 20 bytes skipped at the end are charged to it')
  t.equal(arena.used, 40 + 50)

  arena.release(second?.charged ?? 0)
  arena.release(wrapped?.charged ?? 0)
  t.equal(arena.used, 0, 'releasing every span in order gives back every byte')
  t.equal(arena.take([filled(100, 4)])?.charged, 100, 'and the whole arena is one free span again')
})

t.test('a gap between the head and the oldest span takes exactly its size, not a byte more', async (t) => {
  const arena = new PairArena(100)
  const [a, b] = [arena.take([filled(30, 1)]), arena.take([filled(30, 2)]), arena.take([filled(30, 3)])]
  arena.release(a?.charged ?? 0)
  const wrapped = arena.take([filled(30, 4)])
  t.equal(wrapped?.bodies[0]?.byteOffset, a?.bodies[0]?.byteOffset, 'wrapped to the start, where the first span was')
  t.equal(arena.take([filled(1, 9)]), undefined, 'the head has met the oldest span: the ring is full')
  arena.release(b?.charged ?? 0)

  t.equal(arena.take([filled(31, 5)]), undefined, 'a 30-byte gap refuses 31 bytes')
  const exact = arena.take([filled(30, 6)])
  t.equal(exact?.bodies[0]?.byteOffset, b?.bodies[0]?.byteOffset, 'and takes 30, where the second span was')
  t.equal(arena.used, 100)
})

t.test('the head starts over at the beginning only once every span is released', async (t) => {
  const arena = new PairArena(100)
  const first = arena.take([filled(3, 1)])
  const second = arena.take([filled(3, 2)])
  arena.release(first?.charged ?? 0)
  arena.take([filled(5, 3)])

  t.ok(second?.bodies[0]?.equals(filled(3, 2)), 'the span still held keeps its bytes')
})

t.test('a release of more than was taken empties the arena rather than throwing', async (t) => {
  const arena = new PairArena(10)
  arena.take([filled(4, 1)])
  arena.release(5)
  t.equal(arena.used, 0)
  t.equal(arena.take([filled(10, 2)])?.charged, 10, 'the whole arena is free again')
})

t.test('bodies keep their slots, an absent body stays absent, and an empty one takes no room', async (t) => {
  const arena = new PairArena(10)
  const span = arena.take([undefined, Buffer.from('ab'), Buffer.alloc(0), undefined, Buffer.from('cd')])
  t.same(span?.bodies.map((body) => body === undefined ? undefined : String(body)), [undefined, 'ab', '', undefined, 'cd'])
  t.equal(span?.charged, 4)
  t.equal(arena.take([])?.charged, 0, 'no bodies, nothing charged')
})

t.test('over thousands of takes and releases no span is overwritten while it is held', async (t) => {
  const capacity = 10_000
  const arena = new PairArena(capacity)
  const random = draws(7)
  const held: Array<{ span: ArenaSpan, marks: number[] }> = []
  const intact = ({ span, marks }: { span: ArenaSpan, marks: number[] }): boolean =>
    span.bodies.every((body, index) => body?.equals(filled(body.length, marks[index] ?? 0)) === true)
  const counts = { taken: 0, refused: 0, wraps: 0, damaged: 0, miscounted: 0 }
  let lastOffset = -1

  for (let step = 0; step < 5_000; step++) {
    if (held.length > 0 && random() < 0.45) {
      const oldest = held.shift()
      if (oldest !== undefined && !intact(oldest)) counts.damaged++
      arena.release(oldest?.span.charged ?? 0)
      continue
    }
    const sizes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * 1_500))
    const marks = sizes.map((_, index) => step * 4 + index)
    const span = arena.take(sizes.map((bytes, index) => filled(bytes, marks[index] ?? 0)))
    if (span === undefined) { counts.refused++; continue }

    counts.taken++
    const offset = span.bodies[0]?.byteOffset ?? 0
    if (offset < lastOffset) counts.wraps++
    lastOffset = offset
    held.push({ span, marks })
    const charged = held.reduce((sum, entry) => sum + entry.span.charged, 0)
    if (arena.used !== charged || arena.used > capacity) counts.miscounted++
  }

  t.equal(counts.damaged + held.filter((entry) => !intact(entry)).length, 0, 'every span read back as written when it was released')
  t.equal(counts.miscounted, 0, 'the bytes used always equal what the spans held were charged, within the capacity')
  t.ok(counts.taken > 2_000, `${counts.taken} spans taken`)
  t.ok(counts.refused > 0, `${counts.refused} refused while the ring was full`)
  t.ok(counts.wraps > 100, `the ring went round ${counts.wraps} times`)
})
