import t from 'tap'
import { configSchema } from '../../src/config/schema.js'
import { MirrorPolicy, type RateChange } from '../../src/shadow/mirror-policy.js'

function mirrorConfig (mirror: Record<string, unknown> = {}) {
  const config = configSchema.parse({
    routes: [{ name: 'r', paths: ['/r'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, mirror }]
  })
  return config.routes[0]?.mirror as NonNullable<(typeof config.routes)[0]['mirror']>
}

t.test('GET and HEAD are mirrored by default, unsafe methods only when listed', async (t) => {
  const policy = new MirrorPolicy(mirrorConfig(), 0)
  t.equal(policy.admit('GET', 0, 0.5), 'mirror')
  t.equal(policy.admit('HEAD', 0, 0.5), 'mirror')
  t.equal(policy.admit('POST', 0, 0.5), 'not-sampled')

  const listed = new MirrorPolicy(mirrorConfig({ methods: ['GET', 'POST'] }), 0)
  t.equal(listed.admit('POST', 0, 0.5), 'mirror')
  t.equal(listed.admit('HEAD', 0, 0.5), 'not-sampled')
})

t.test('the sample rate decides by the draw', async (t) => {
  const policy = new MirrorPolicy(mirrorConfig({ sampleRate: 10 }), 0)
  t.equal(policy.admit('GET', 0, 0.0999), 'mirror')
  t.equal(policy.admit('GET', 0, 0.1), 'not-sampled')
})

t.test('the per-second cap and the in-flight cap skip, never queue', async (t) => {
  const capped = new MirrorPolicy(mirrorConfig({ maxPerSecond: 3, maxInFlight: 100 }), 0)
  const first = [0, 0, 0, 0].map(() => capped.admit('GET', 0, 0))
  t.same(first, ['mirror', 'mirror', 'mirror', 'rate-limit'])
  t.equal(capped.admit('GET', 340, 0), 'mirror', 'a token comes back after a third of a second')

  const busy = new MirrorPolicy(mirrorConfig({ maxInFlight: 2 }), 0)
  t.same([busy.admit('GET', 0, 0), busy.admit('GET', 0, 0), busy.admit('GET', 0, 0)], ['mirror', 'mirror', 'busy'])
  busy.release(10, false)
  t.equal(busy.admit('GET', 0, 0), 'mirror', 'a finished shadow request frees its place')
})

t.test('the budget guard halves the rate while the shadow fails and doubles it back once healthy', async (t) => {
  const changes: RateChange[] = []
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0, (change) => changes.push(change))
  let now = 0
  const second = (failing: boolean): void => {
    for (let index = 0; index < 10; index++) {
      if (policy.admit('GET', now, 0) === 'mirror') policy.release(failing ? 5 : 20, failing)
    }
    now += 1_000
  }

  // Each second is judged when the next one begins.
  second(true)
  second(true)
  t.equal(policy.factor, 0.5, 'halved after a second with every shadow request failing')
  second(true)
  t.equal(policy.factor, 0.25)
  t.equal(changes[0]?.reason, '10 failed and 0 slow of 10 shadow requests in the last 1.0 s')

  second(false)
  t.equal(policy.factor, 0.125, 'the third failing second is judged')
  second(false)
  second(false)
  t.equal(policy.factor, 0.125, 'two healthy seconds are not enough to recover')
  second(false)
  t.equal(policy.factor, 0.25, 'three are')
  t.equal(changes.at(-1)?.reason, 'shadow backend healthy again; the rate doubles after every 3 healthy seconds of traffic',
    'a partial recovery says what it waits for')
  for (let index = 0; index < 6; index++) second(false)
  t.equal(policy.factor, 1, 'recovered to the whole sample rate')
  t.equal(changes.at(-1)?.reason, 'shadow backend healthy again')
})

t.test('a struggling window is described over the time it really spans', async (t) => {
  const changes: RateChange[] = []
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0, (change) => changes.push(change))
  for (let index = 0; index < 10; index++) {
    if (policy.admit('GET', 0, 0) === 'mirror') policy.release(5, true)
  }

  // The next request comes 1.6 s after the window began: that is when it is judged.
  policy.admit('GET', 1_600, 0)
  t.equal(changes[0]?.reason, '10 failed and 0 slow of 10 shadow requests in the last 1.6 s')

  const sparse: RateChange[] = []
  const quiet = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0, (change) => sparse.push(change))
  if (quiet.admit('GET', 0, 0) === 'mirror') quiet.release(5, true)
  quiet.admit('GET', 1_200, 0)
  t.equal(sparse[0]?.reason, '1 failed and 0 slow of 1 shadow request in the last 1.2 s', 'one request is not "requests"')
})

t.test('slow answers count as struggling too, and the draw is thinned while backed off', async (t) => {
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0)
  for (let index = 0; index < 10; index++) {
    policy.admit('GET', 0, 0)
    policy.release(150, false)
  }
  policy.admit('GET', 1_000, 0)
  t.equal(policy.factor, 0.5)
  t.equal(policy.admit('GET', 1_000, 0.6), 'backoff', 'a draw above half the sample rate is skipped')
  t.equal(policy.admit('GET', 1_000, 0.4), 'mirror')
})

/** One second of `answers` shadow requests, each failing or not, judged when the next second begins. */
function runSecond (policy: MirrorPolicy, at: number, answers: boolean[]): void {
  for (const failing of answers) {
    if (policy.admit('GET', at, 0) === 'mirror') policy.release(failing ? 5 : 20, failing)
  }
}

t.test('with too few answers for a share, a second in which every one failed still counts as struggling', async (t) => {
  const changes: RateChange[] = []
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0, (change) => changes.push(change))

  // A shadow backend refusing everything, on a route with two shadow requests a second.
  for (let second = 0; second < 12; second++) runSecond(policy, second * 1_000, [true, true])
  policy.admit('GET', 12_000, 0)
  t.equal(policy.factor, 1 / 128, 'backed off down to the floor')
  t.notOk(changes.some((change) => change.factor > 1 / 128 && /healthy/.test(change.reason)), 'never called healthy on the way down')

  const mixed = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0)
  runSecond(mixed, 0, [true, false, false])
  mixed.admit('GET', 1_000, 0)
  t.equal(mixed.factor, 1, 'one failure of three is too few to tell')
})

t.test('a second without answers tells nothing, and does not count towards recovery', async (t) => {
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0)
  runSecond(policy, 0, Array.from({ length: 10 }, () => true))
  policy.admit('GET', 1_000, 0)
  t.equal(policy.factor, 0.5)

  // Sampled requests that the back-off skips: seconds go by without a shadow answer.
  for (let second = 2; second < 8; second++) t.equal(policy.admit('GET', second * 1_000, 0.9), 'backoff')
  t.equal(policy.factor, 0.5, 'six seconds without answers')
  for (let second = 8; second < 12; second++) runSecond(policy, second * 1_000, [false, false])
  t.equal(policy.factor, 1, 'three seconds with healthy answers')
})

t.test('trouble counted before a route went quiet is old news when its traffic returns', async (t) => {
  const changes: RateChange[] = []
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200, maxInFlight: 2 }), 0, (change) => changes.push(change))
  // Shadow requests pile up, then live traffic stops for twenty seconds.
  for (let index = 0; index < 10; index++) policy.admit('GET', 0, 0)
  t.equal(policy.factor, 1)
  policy.release(20, false)
  policy.release(20, false)

  policy.admit('GET', 20_000, 0)
  t.equal(policy.factor, 1, 'the skips of twenty seconds ago do not halve the rate')
  t.same(changes, [])

  // Fresh trouble still counts.
  for (let index = 0; index < 10; index++) policy.admit('GET', 20_500, 0)
  policy.admit('GET', 21_000, 0)
  t.equal(policy.factor, 0.5)
})

t.test('good answers counted before a route went quiet still count towards recovery', async (t) => {
  const policy = new MirrorPolicy(mirrorConfig({ timeoutMs: 200 }), 0)
  runSecond(policy, 0, Array.from({ length: 10 }, () => true))
  policy.admit('GET', 1_000, 0)
  t.equal(policy.factor, 0.5)

  // A sparse route: one healthy answer every five seconds.
  for (let second = 5; second <= 20; second += 5) runSecond(policy, second * 1_000, [false])
  t.equal(policy.factor, 1, 'recovered on answers spread out in time')
})
