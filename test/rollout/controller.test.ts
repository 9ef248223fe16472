import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { viewRoute } from '../../src/admin/route-view.js'
import { configSchema, type Config, type RouteConfig } from '../../src/config/schema.js'
import { describeChange, RolloutController } from '../../src/rollout/controller.js'
import type { Notifier } from '../../src/rollout/notifier.js'
import { applyTransition, planManualAction } from '../../src/rollout/rollout-actions.js'
import type { RolloutPlan } from '../../src/rollout/plan.js'
import { recordPairs, type PairRecord } from '../../src/store/diff-aggregates.js'
import { createKeys, type Keys } from '../../src/store/keys.js'
import { addLiveFigures, emptyLiveFigures } from '../../src/store/live-figures.js'
import { latencyBucket } from '../../src/store/latency-histogram.js'
import { readHistory, readRolloutState, seedRolloutStates, writeRolloutState, type HistoryEntry } from '../../src/store/rollout-store.js'
import type { Logger } from '../../src/telemetry/logger.js'
import { memoryLogger } from '../helpers/gateway.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

const plan = {
  steps: [1, 5, 10, 25, 50, 100],
  intervalMs: 10_000,
  minStepMs: 20_000,
  minComparedPairs: 200,
  minCandidateRequests: 50,
  thresholds: { divergencePercent: 1 }
}

interface Harness {
  redis: Redis
  keys: Keys
  config: Config
  clock: { now: number }
  controller: (notified?: HistoryEntry[], logger?: Logger) => Promise<RolloutController>
  /** One analysis interval of traffic: pairs compared (some diverging) and live requests. */
  traffic: (pairs: number, diverging: number, liveRequests?: number) => Promise<void>
  advance: (ms: number) => void
  state: () => Promise<Awaited<ReturnType<typeof readRolloutState>>>
}

async function harness (t: Test, routePlan: Record<string, unknown> = plan, percentage = 0): Promise<Harness> {
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('controller')
  const keys = createKeys(namespace)
  const redis = new Redis(redisUrl)
  const config = configSchema.parse({
    redis: { url: redisUrl, namespace },
    controller: { leaseMs: 3_000 },
    routes: [{ name: 'feed', paths: ['/feed'], baseline: { url: 'http://127.0.0.1:1' }, candidate: { url: 'http://127.0.0.1:2' }, percentage, plan: routePlan }]
  })
  const clock = { now: Date.now() }
  const controllers: RolloutController[] = []
  let batch = 0
  t.teardown(async () => {
    for (const controller of controllers) await controller.close()
    redis.disconnect()
    await dropNamespace(redisUrl, namespace)
  })
  await seedRolloutStates(redis, keys, new Map([['feed', percentage]]), clock.now)

  return {
    redis,
    keys,
    config,
    clock,
    controller: async (notified = [], logger = memoryLogger('warn').logger) => {
      const notifier: Notifier = { notify: (entry) => notified.push(entry) }
      const controller = new RolloutController({ config, redisUrl, keys, logger, notifier, now: () => clock.now })
      await controller.start(false)
      controllers.push(controller)
      return controller
    },
    traffic: async (pairs, diverging, liveRequests = 100) => {
      const records: PairRecord[] = Array.from({ length: pairs }, (_value, index) => ({
        capturedAt: clock.now,
        verdict: index < diverging ? 'diverging' : 'identical',
        differences: index < diverging ? [{ path: 'price', kind: 'changed' }] : [],
        ignored: [],
        noise: []
      }))
      await recordPairs(redis, keys, 'feed', `batch-${batch++}`, records)
      const live = emptyLiveFigures()
      live.candidate.requests = liveRequests
      live.baseline.requests = liveRequests * 9
      live.candidate.latency[latencyBucket(20)] = liveRequests
      live.baseline.latency[latencyBucket(20)] = liveRequests * 9
      await addLiveFigures(redis, keys, 'feed', Math.floor(clock.now / 10_000), live)
    },
    advance: (ms) => { clock.now += ms },
    state: async () => await readRolloutState(redis, keys, 'feed')
  }
}

/** Runs analysis intervals with the given traffic until the state settles or the count runs out. */
async function runIntervals (h: Harness, controller: RolloutController, count: number, pairs: number, diverging: number): Promise<number[]> {
  const seen: number[] = []
  for (let index = 0; index < count; index++) {
    await h.traffic(pairs, diverging)
    h.advance(10_000)
    await controller.refreshLease()
    await controller.tick()
    const state = await h.state()
    if (seen.at(-1) !== state?.percentage) seen.push(state?.percentage ?? -1)
    if (state?.status === 'complete' || state?.status === 'rolled-back') break
  }
  return seen
}

t.test('a clean candidate ramps through every step to 100%, and the history holds each step with its figures', async (t) => {
  const h = await harness(t)
  const notified: HistoryEntry[] = []
  const controller = await h.controller(notified)
  t.equal(await controller.refreshLease(), true, 'the only controller leads')

  const percentages = await runIntervals(h, controller, 60, 300, 0)
  t.same(percentages, [1, 5, 10, 25, 50, 100])
  const state = await h.state()
  t.equal(state?.status, 'complete')

  const history = (await readHistory(h.redis, h.keys, 'feed')).reverse()
  t.same(history.map((entry) => `${entry.action} ${entry.from}→${entry.to}`), [
    'start 0→1', 'promote 1→5', 'promote 5→10', 'promote 10→25', 'promote 25→50', 'promote 50→100'
  ], 'reaching the last step completes the plan')
  const promotion = history[1] as HistoryEntry & { figures: { checks: Array<{ name: string, outcome: string, samples: number }> } }
  t.equal(promotion.actor, 'controller')
  t.match(promotion.figures.checks.find((check) => check.name === 'divergence'), { outcome: 'pass' })
  t.ok((promotion.figures.checks.find((check) => check.name === 'divergence')?.samples ?? 0) >= 200, 'with the samples behind it')

  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(notified.map((entry) => entry.action), ['start', 'promote', 'promote', 'promote', 'promote', 'promote'],
    'a notification for each change made while leading')
})

t.test('3% divergence against a 1% threshold is rolled back at its first step with enough samples', async (t) => {
  const h = await harness(t)
  const { logger, lines } = memoryLogger('info')
  const controller = await h.controller([], logger)
  await controller.refreshLease()
  const percentages = await runIntervals(h, controller, 10, 300, 9)

  t.same(percentages, [1, 0], 'never promoted; rolled back to 0')
  const state = await h.state()
  t.equal(state?.status, 'rolled-back')
  const [rollBack] = await readHistory(h.redis, h.keys, 'feed', 1)
  t.match(rollBack, { action: 'roll-back', from: 1, to: 0, actor: 'controller' })
  t.match(rollBack?.reason, /divergence/)

  const levels = lines().filter((line) => line.action !== undefined).map((line) => [line.action, line.level])
  t.same(levels, [['start', 30], ['roll-back', 40]], 'the rollback is a warning; the plan\'s start is not')
})

t.test('0.4% divergence is promoted', async (t) => {
  const h = await harness(t)
  const controller = await h.controller()
  await controller.refreshLease()
  const percentages = await runIntervals(h, controller, 6, 500, 2)

  t.ok(percentages.includes(5), `promoted: ${percentages.join(' → ')}`)
})

t.test('too few samples hold, and say how many are missing', async (t) => {
  const h = await harness(t)
  const controller = await h.controller()
  await controller.refreshLease()
  await runIntervals(h, controller, 1, 0, 0)
  await runIntervals(h, controller, 4, 30, 0)

  const state = await h.state()
  t.equal(state?.percentage, 1, 'still on the first step')
  t.equal(state?.status, 'ramping')
  t.match(state?.waitingFor, /holding: 1\d\d of 200 compared pairs/)
})

t.test('a manual set pauses automation; resume lets the plan go on', async (t) => {
  const h = await harness(t)
  const controller = await h.controller()
  await controller.refreshLease()
  await runIntervals(h, controller, 1, 300, 0)

  await applyTransition(h.redis, h.keys, 'feed', (state) => planManualAction(state, h.config.routes[0]?.plan as RolloutPlan, { kind: 'set', percentage: 7.5 }, { actor: 'release-manager' }, h.clock.now))
  await runIntervals(h, controller, 8, 300, 0)
  let state = await h.state()
  t.equal(state?.percentage, 7.5, 'the controller left the percentage alone')
  t.equal(state?.status, 'paused')

  await applyTransition(h.redis, h.keys, 'feed', (current) => planManualAction(current, h.config.routes[0]?.plan as RolloutPlan, { kind: 'resume' }, { actor: 'release-manager' }, h.clock.now))
  await runIntervals(h, controller, 8, 300, 0)
  state = await h.state()
  t.ok((state?.percentage ?? 0) > 7.5, `the plan went on from the step below: now ${state?.percentage}%`)
})

t.test('retry after a rollback starts the plan again cleanly', async (t) => {
  const h = await harness(t)
  const controller = await h.controller()
  await controller.refreshLease()
  await runIntervals(h, controller, 10, 300, 30)
  t.equal((await h.state())?.status, 'rolled-back')
  await runIntervals(h, controller, 3, 300, 0)
  t.equal((await h.state())?.percentage, 0, 'a rolled-back route stays rolled back until a person retries')

  await applyTransition(h.redis, h.keys, 'feed', (state) => planManualAction(state, h.config.routes[0]?.plan as RolloutPlan, { kind: 'retry' }, { actor: 'release-manager' }, h.clock.now))
  const retried = await h.state()
  t.match(retried, { percentage: 1, stepIndex: 0, status: 'ramping', failingIntervals: 0 })
  const percentages = await runIntervals(h, controller, 60, 300, 0)
  t.same(percentages, [1, 5, 10, 25, 50, 100], 'the earlier divergence does not count against the new attempt')
})

t.test('two controllers run and exactly one decides; when it dies the other takes over within one lease', async (t) => {
  const h = await harness(t)
  const first = await h.controller()
  const second = await h.controller()
  const [a, b] = [await first.refreshLease(), await second.refreshLease()]
  t.same([a, b], [true, false], 'exactly one leads')

  await runIntervals(h, first, 3, 300, 0)
  const decisions = (await readHistory(h.redis, h.keys, 'feed')).length
  await second.tick()
  t.equal((await readHistory(h.redis, h.keys, 'feed')).length, decisions, 'the follower decided nothing')

  // The leader dies: it neither renews nor releases its lease.
  await first.close(false)
  h.advance(1_000)
  t.equal(await second.refreshLease(), false, 'not before the lease ran out')
  h.advance(2_100)
  await new Promise((resolve) => setTimeout(resolve, 3_200))
  t.equal(await second.refreshLease(), true, 'taken over once the lease expired')
  const before = (await h.state())?.percentage
  await runIntervals(h, second, 6, 300, 0)
  t.ok(((await h.state())?.percentage ?? 0) > (before ?? 0), 'the new leader goes on promoting')
})

t.test('the start of a plan is logged as where it started, with the change in its fields', async (t) => {
  for (const [percentage, message] of [[5, 'feed: plan started at 5% (step 2 of 6)'], [0, 'feed: plan started at 1% (step 1 of 6), up from 0%']] as const) {
    const h = await harness(t, plan, percentage)
    const { logger, lines } = memoryLogger('info')
    const controller = new RolloutController({ config: h.config, redisUrl: h.config.redis.url, keys: h.keys, logger, notifier: { notify: () => {} }, now: () => h.clock.now })
    t.teardown(async () => await controller.close())
    await controller.start(false)
    await controller.refreshLease()
    await controller.tick()

    const started = lines().filter((line) => line.action === 'start')
    t.same(started.map((line) => line.msg), [message])
    t.match(started[0], { route: 'feed', action: 'start', from: percentage, to: Math.max(percentage, 1), reason: /^plan started at step \d of 6$/ })
  }
})

t.test('each change is logged with its percentages; one that changes none says where the route is', async (t) => {
  const h = await harness(t)
  const { logger, lines } = memoryLogger('info')
  const controller = new RolloutController({ config: h.config, redisUrl: h.config.redis.url, keys: h.keys, logger, notifier: { notify: () => {} }, now: () => h.clock.now })
  t.teardown(async () => await controller.close())
  await controller.start(false)
  await runIntervals(h, controller, 60, 300, 0)

  const said = lines().filter((line) => line.action === 'promote').map((line) => line.msg)
  t.same(said, [
    'feed: promote from 1% to 5%', 'feed: promote from 5% to 10%', 'feed: promote from 10% to 25%',
    'feed: promote from 25% to 50%', 'feed: promote from 50% to 100%'
  ])
  t.equal(describeChange('feed', { action: 'pause', from: 25, to: 25 }), 'feed: pause at 25%', 'not "from 25 to 25"')
  t.equal(describeChange('feed', { action: 'complete', from: 100, to: 100 }), 'feed: complete at 100%')
})

t.test('a person who changes the route while the leader is deciding wins; the stale decision is dropped, not written', async (t) => {
  const h = await harness(t)
  const leader = await h.controller()
  t.same(await runIntervals(h, leader, 1, 300, 0), [1], 'the plan started at its first step')

  // A second controller on the same Redis. In a tick it reads its clock
  // twice: for the lease, then right after it has loaded the route's state.
  // The person's change lands at that second reading.
  const { logger, lines } = memoryLogger('info')
  let readingsUntilChange = 0
  const deciding = new RolloutController({
    config: h.config,
    redisUrl: h.config.redis.url,
    keys: h.keys,
    logger,
    notifier: { notify: () => {} },
    now: () => {
      if (readingsUntilChange > 0 && --readingsUntilChange === 0) {
        void writeRolloutState(h.redis, h.keys, 'feed', { percentage: 0, status: 'manual', actor: 'release-manager', reason: 'stopped by hand' },
          { history: { actor: 'release-manager', action: 'set', from: 1, to: 0, reason: 'stopped by hand' }, now: h.clock.now })
      }
      return h.clock.now
    }
  })
  await leader.close()
  await deciding.start(false)
  t.teardown(async () => await deciding.close())
  t.equal(await deciding.refreshLease(), true, 'it leads once the first has stepped down')

  await h.traffic(300, 0)
  h.advance(20_000)
  t.equal(await deciding.refreshLease(), true)
  readingsUntilChange = 2
  await deciding.tick()

  t.equal(readingsUntilChange, 0, 'the change landed during the analysis')
  t.match(await h.state(), { percentage: 0, status: 'manual', actor: 'release-manager' }, "the person's change stands")
  const actions = (await readHistory(h.redis, h.keys, 'feed')).map((entry) => `${entry.actor} ${entry.action} ${entry.to}`)
  t.equal(actions[0], 'release-manager set 0', 'the newest entry is the person\'s, and no promotion follows it')
  t.notOk(actions.includes('controller promote 5'), 'the promotion decided on the old state was never written')
  t.ok(lines().some((line) => String(line.msg).includes('route changed during the analysis')), 'and the dropped decision is logged')
})

t.test('an interval that only holds leaves the last change as it was: its time, actor and reason', async (t) => {
  const h = await harness(t)
  const controller = await h.controller()
  t.same(await runIntervals(h, controller, 1, 300, 0), [1], 'the plan started')
  const started = await h.state()

  // Too few pairs to decide: the controller records its analysis and holds.
  await h.traffic(10, 0)
  h.advance(10_000)
  await controller.refreshLease()
  await controller.tick()

  const held = await h.state()
  t.match(held?.waitingFor, /compared pairs/, 'the hold is recorded')
  t.ok((held?.updatedAt ?? 0) > (started?.updatedAt ?? 0), 'the state was written again')
  const [newest] = await readHistory(h.redis, h.keys, 'feed')
  t.equal(held?.changedAt, newest?.at, 'the last change is still the start of the plan')
  t.equal(held?.reason, started?.reason)
  t.equal(held?.actor, 'controller')

  const view = await viewRoute({ redis: h.redis, keys: h.keys, now: h.clock.now, served: () => undefined }, h.config.routes[0] as RouteConfig, held)
  t.equal(view.updatedAt, new Date(newest?.at ?? 0).toISOString(), 'and status shows that change, not the hold')
})
