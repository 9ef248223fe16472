import t from 'tap'
import { chooseBackend } from '../../src/gateway/backend-choice.js'
import { bucketCount, inCandidateShare, stickyBucket } from '../../src/gateway/sticky-bucket.js'

// Seeded, so the suite is repeatable: the keys are random-looking user ids,
// and a poorly spreading hash still fails the share checks below.
const keys = seededKeys(100_000, 0x5eed)

function seededKeys (count: number, seed: number): string[] {
  let state = seed
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0)
  }
  return Array.from({ length: count }, () => `user-${next().toString(36)}${next().toString(36)}`)
}

function candidateShare (route: string, percentage: number): number {
  let inside = 0
  for (const key of keys) if (chooseBackend(route, key, percentage, undefined).backend === 'candidate') inside++
  return (inside / keys.length) * 100
}

t.test('a key inside the candidate share at 10% is still inside at 20%, and at every higher step', async (t) => {
  const insideAtTen = keys.filter((key) => inCandidateShare(stickyBucket('products', key), 10))
  t.ok(insideAtTen.length > 9_000, 'about a tenth of the keys are in the share at 10%')

  for (const percentage of [20, 25, 50, 99.99, 100]) {
    const moved = insideAtTen.filter((key) => !inCandidateShare(stickyBucket('products', key), percentage))
    t.equal(moved.length, 0, `no key moves back to the baseline at ${percentage}%`)
  }
})

t.test('over 100,000 random keys the share at p% is within half a point of p', async (t) => {
  for (const percentage of [0.5, 1, 5, 10, 25, 33.33, 50, 75, 90]) {
    const share = candidateShare('products', percentage)
    t.ok(Math.abs(share - percentage) <= 0.5, `share at ${percentage}% is ${share.toFixed(3)}%`)
  }
})

t.test('0 and 100 mean exactly none and all', async (t) => {
  t.equal(candidateShare('products', 0), 0)
  t.equal(candidateShare('products', 100), 100)
  t.equal(chooseBackend('products', undefined, 0, undefined).backend, 'baseline', 'also without a key')
  t.equal(chooseBackend('products', undefined, 100, undefined).backend, 'candidate', 'also without a key')
})

t.test('the same key keeps its backend, and the route name salts the bucket', async (t) => {
  const key = 'user-42'
  t.equal(stickyBucket('products', key), stickyBucket('products', key))

  const agreeing = keys.slice(0, 10_000).filter((k) => stickyBucket('products', k) === stickyBucket('orders', k)).length
  t.ok(agreeing < 10, `buckets on two routes are independent (${agreeing} of 10,000 equal)`)
  t.ok(keys.every((k) => stickyBucket('products', k) >= 0 && stickyBucket('products', k) < bucketCount))
})

t.test('steps of 0.01 are honoured: 0.01% is one bucket in 10,000', async (t) => {
  t.ok(inCandidateShare(0, 0.01))
  t.notOk(inCandidateShare(1, 0.01))
  t.ok(inCandidateShare(9_999, 100))
  t.notOk(inCandidateShare(9_999, 99.99))
})

t.test('requests without a key are split at random in the right proportion', async (t) => {
  let candidate = 0
  for (let index = 0; index < 100_000; index++) {
    if (chooseBackend('products', undefined, 30, undefined).backend === 'candidate') candidate++
  }
  // Unseeded: 0.6 points is four standard deviations at this sample size.
  t.ok(Math.abs(candidate / 1_000 - 30) <= 0.6, `random share at 30% is ${candidate / 1_000}%`)
  t.equal(chooseBackend('products', undefined, 30, undefined).basis, 'random')
})
