import t from 'tap'
import { joinAdjacent, PairArena, type ArenaSpan } from '../../src/shadow/pair-arena.js'

/** A record whose every byte says which record it is, so an overwrite shows. */
function filled (bytes: number, mark: number): Buffer {
  return Buffer.alloc(bytes, mark % 251)
}

/** Takes a span and writes a marked record into it, as the batcher does. */
function write (arena: PairArena, bytes: number, mark: number): ArenaSpan | undefined {
  const span = arena.take(bytes)
  span?.view.fill(mark % 251)
  return span
}

/** Deterministic draws, so a failure can be replayed. */
function draws (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

t.test('a span is a view of exactly the bytes asked for, next to the span before it', async (t) => {
  const arena = new PairArena(100)
  const first = arena.take(7)
  const second = arena.take(8)

  t.equal(first?.view.length, 7)
  t.equal(second?.view.length, 8)
  t.same([first?.charged, second?.charged], [7, 8])
  t.equal(second?.view.byteOffset, (first?.view.byteOffset ?? 0) + 7, 'the second span follows the first')
  t.equal(second?.view.buffer, first?.view.buffer, 'both are views of the one arena')
})

t.test('what does not fit is refused, and fits again once the oldest spans are released', async (t) => {
  const arena = new PairArena(100)
  t.equal(write(arena, 101, 1), undefined, 'larger than the whole arena')
  const first = write(arena, 60, 1)
  t.equal(write(arena, 50, 2), undefined, '60 + 50 bytes do not fit in 100')
  const second = write(arena, 40, 3)
  t.equal(arena.used, 100)
  t.equal(write(arena, 1, 4), undefined, 'nothing fits a full arena')

  arena.release(first?.charged ?? 0)
  const third = write(arena, 50, 5)
  t.equal(third?.view.byteOffset, first?.view.byteOffset, 'the freed start of the ring is used again')
  t.ok(second?.view.equals(filled(40, 3)), 'the span still held is untouched')
})

t.test('a span that does not fit at the end of the ring starts over at its beginning, charged for the end it skipped', async (t) => {
  const arena = new PairArena(100)
  const first = write(arena, 40, 1)
  const second = write(arena, 40, 2)
  arena.release(first?.charged ?? 0)

  const wrapped = write(arena, 30, 3)
  t.equal(wrapped?.view.byteOffset, first?.view.byteOffset, 'placed where the first span was')
  t.equal(wrapped?.charged, 20 + 30, 'the 20 bytes skipped at the end are charged to it')
  t.equal(arena.used, 40 + 50)

  arena.release(second?.charged ?? 0)
  arena.release(wrapped?.charged ?? 0)
  t.equal(arena.used, 0, 'releasing every span in order gives back every byte')
  t.equal(write(arena, 100, 4)?.charged, 100, 'and the whole arena is one free span again')
})

t.test('a gap between the head and the oldest span takes exactly its size, not a byte more', async (t) => {
  const arena = new PairArena(100)
  const [a, b] = [write(arena, 30, 1), write(arena, 30, 2), write(arena, 30, 3)]
  arena.release(a?.charged ?? 0)
  const wrapped = write(arena, 30, 4)
  t.equal(wrapped?.view.byteOffset, a?.view.byteOffset, 'wrapped to the start, where the first span was')
  t.equal(write(arena, 1, 9), undefined, 'the head has met the oldest span: the ring is full')
  arena.release(b?.charged ?? 0)

  t.equal(write(arena, 31, 5), undefined, 'a 30-byte gap refuses 31 bytes')
  const exact = write(arena, 30, 6)
  t.equal(exact?.view.byteOffset, b?.view.byteOffset, 'and takes 30, where the second span was')
  t.equal(arena.used, 100)
})

t.test('the head starts over at the beginning only once every span is released', async (t) => {
  const arena = new PairArena(100)
  const first = write(arena, 3, 1)
  const second = write(arena, 3, 2)
  arena.release(first?.charged ?? 0)
  write(arena, 5, 3)

  t.ok(second?.view.equals(filled(3, 2)), 'the span still held keeps its bytes')
})

t.test('a release of more than was taken empties the arena rather than throwing', async (t) => {
  const arena = new PairArena(10)
  write(arena, 4, 1)
  arena.release(5)
  t.equal(arena.used, 0)
  t.equal(write(arena, 10, 2)?.charged, 10, 'the whole arena is free again')
})

t.test('an empty span takes no room', async (t) => {
  const arena = new PairArena(10)
  t.equal(arena.take(0)?.charged, 0)
  t.equal(arena.used, 0)
})

t.test('views that follow each other in memory are joined into one view, uncopied', async (t) => {
  const arena = new PairArena(11)
  const [a, b, c] = [write(arena, 3, 1), write(arena, 3, 2), write(arena, 3, 3)]
  arena.release(a?.charged ?? 0)
  const wrapped = write(arena, 3, 4)
  t.equal(wrapped?.view.byteOffset, a?.view.byteOffset, 'the last span went round to the start')
  const views = [a, b, c, wrapped].map((span) => span?.view ?? Buffer.alloc(0))

  const joined = joinAdjacent([views[1] as Buffer, views[2] as Buffer, views[3] as Buffer])
  t.equal(joined.length, 2, 'the wrapped span starts a second view')
  t.same([...(joined[0] ?? [])], [2, 2, 2, 3, 3, 3])
  t.equal(joined[0]?.buffer, views[1]?.buffer, 'a view of the arena, not a copy')
  t.same([...(joined[1] ?? [])], [4, 4, 4])

  const elsewhere = Buffer.from([9])
  t.equal(joinAdjacent([views[2] as Buffer, elsewhere]).length, 2, 'a buffer of other memory is never joined')
  t.same(joinAdjacent([]), [])
})

t.test('over thousands of takes and releases no span is overwritten while it is held', async (t) => {
  const capacity = 10_000
  const arena = new PairArena(capacity)
  const random = draws(7)
  const held: Array<{ span: ArenaSpan, mark: number }> = []
  const intact = ({ span, mark }: { span: ArenaSpan, mark: number }): boolean => span.view.equals(filled(span.view.length, mark))
  const counts = { taken: 0, refused: 0, wraps: 0, damaged: 0, miscounted: 0 }
  let lastOffset = -1

  for (let step = 0; step < 5_000; step++) {
    if (held.length > 0 && random() < 0.45) {
      const oldest = held.shift()
      if (oldest !== undefined && !intact(oldest)) counts.damaged++
      arena.release(oldest?.span.charged ?? 0)
      continue
    }
    const span = write(arena, Math.floor(random() * 4_500), step)
    if (span === undefined) { counts.refused++; continue }

    counts.taken++
    const offset = span.view.byteOffset
    if (offset < lastOffset) counts.wraps++
    lastOffset = offset
    held.push({ span, mark: step })
    const charged = held.reduce((sum, entry) => sum + entry.span.charged, 0)
    if (arena.used !== charged || arena.used > capacity) counts.miscounted++
  }

  t.equal(counts.damaged + held.filter((entry) => !intact(entry)).length, 0, 'every span read back as written when it was released')
  t.equal(counts.miscounted, 0, 'the bytes used always equal what the spans held were charged, within the capacity')
  t.ok(counts.taken > 2_000, `${counts.taken} spans taken`)
  t.ok(counts.refused > 0, `${counts.refused} refused while the ring was full`)
  t.ok(counts.wraps > 100, `the ring went round ${counts.wraps} times`)
})
