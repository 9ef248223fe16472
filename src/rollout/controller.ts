import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { RedisClient } from '../store/redis-connection.js'
import type { Config, RouteConfig } from '../config/schema.js'
import { readDivergence } from '../store/diff-aggregates.js'
import type { Keys } from '../store/keys.js'
import { liveP99, readLiveFigures } from '../store/live-figures.js'
import { connectRedis, waitUntilReady } from '../store/redis-connection.js'
import { readHistory, readRolloutState, writeRolloutState, type HistoryEntry, type RolloutState, type RolloutStateChange } from '../store/rollout-store.js'
import type { Logger } from '../telemetry/logger.js'
import { decideStep, type Decision, type StepWindow } from './decision-rule.js'
import { LeaderLock } from './leader-lock.js'
import type { Notifier } from './notifier.js'
import type { RolloutPlan } from './plan.js'
import { onStep, stepAtOrBelow } from './rollout-actions.js'

export interface ControllerOptions {
  config: Readonly<Config>
  redisUrl: string
  keys: Keys
  logger: Logger
  notifier: Notifier
  /** The clock; tests pass their own. */
  now?: () => number
}

/** History entries a new leader treats as already notified: the ones that were there before it led. */
const recentEntries = 20

/**
 * The rollout controller. In every process that runs it; one at a time
 * leads (an expiring Redis lock) and decides. At each route's analysis
 * interval the leader reads the step's figures, asks the decision rule,
 * and writes the decision back only if nobody changed the route in the
 * meantime. It also sends the notifications of every change, whoever made
 * it, so each is sent once.
 */
export class RolloutController {
  readonly #options: ControllerOptions
  readonly #now: () => number
  readonly #routes: Array<{ route: RouteConfig, plan: RolloutPlan }>
  readonly #holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  readonly #notified = new Map<string, Set<string>>()
  #redis: RedisClient | undefined
  #subscriber: RedisClient | undefined
  #lock: LeaderLock | undefined
  #timers: NodeJS.Timeout[] = []
  #ticking: Promise<void> | undefined

  constructor (options: ControllerOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#routes = options.config.routes
      .filter((route) => route.plan !== undefined)
      .map((route) => ({ route, plan: route.plan as RolloutPlan }))
  }

  get holder (): string {
    return this.#holder
  }

  get leading (): boolean {
    return this.#lock?.leading ?? false
  }

  /** Connects and joins the election; with `timers` false, the caller drives `refreshLease` and `tick`. */
  async start (timers = true): Promise<void> {
    const { redisUrl, keys, config, logger } = this.#options
    this.#redis = connectRedis(redisUrl, { connectionName: 'shadowramp-controller' })
    this.#redis.on('error', () => {})
    this.#lock = new LeaderLock({
      redis: this.#redis,
      key: keys.controllerLeader,
      holder: this.#holder,
      leaseMs: config.controller.leaseMs,
      now: this.#now,
      onChange: (leading) => { void this.#onLeadership(leading) }
    })
    this.#subscriber = connectRedis(redisUrl, { connectionName: 'shadowramp-controller-sub', enableOfflineQueue: true })
    this.#subscriber.on('error', () => {})
    this.#subscriber.on('message', (_channel: string, route: string) => { void this.#notifyNewEntries(route) })
    void this.#subscriber.subscribe(keys.rolloutChanges).catch(() => {})
    logger.debug({ holder: this.#holder }, 'rollout controller joined the election')
    await waitUntilReady(this.#redis, 1_000)
    if (!timers) return

    this.#timers = [
      setInterval(() => { void this.refreshLease() }, Math.max(100, config.controller.leaseMs / 3)),
      setInterval(() => { void this.tick() }, config.controller.tickMs)
    ]
    for (const timer of this.#timers) timer.unref()
    void this.refreshLease()
  }

  async refreshLease (): Promise<boolean> {
    return await (this.#lock?.refresh() ?? Promise.resolve(false))
  }

  /** Analyses every route whose interval has come, if this process leads. */
  async tick (): Promise<void> {
    if (this.#ticking !== undefined) return await this.#ticking

    this.#ticking = this.#analyseDueRoutes().finally(() => { this.#ticking = undefined })
    return await this.#ticking
  }

  /** Stops deciding; with `release`, hands the lease over at once instead of letting it expire. */
  async close (release = true): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer)
    await this.#ticking
    if (release) await this.#lock?.release()
    this.#redis?.disconnect()
    this.#subscriber?.disconnect()
  }

  async #analyseDueRoutes (): Promise<void> {
    if (!this.leading) return

    for (const { route, plan } of this.#routes) {
      try {
        await this.#analyseRoute(route.name, plan)
      } catch (error) {
        this.#options.logger.warn({ err: error, route: route.name }, 'rollout analysis failed; trying again at the next interval')
      }
    }
  }

  /**
   * One route's turn, in the order argo-rollouts reads: load the state,
   * start the plan if it is new, check the interval, read the figures,
   * decide, and write the decision back.
   */
  async #analyseRoute (route: string, plan: RolloutPlan): Promise<void> {
    const redis = this.#redis as RedisClient
    const state = await readRolloutState(redis, this.#options.keys, route)
    if (state === undefined || state.status === 'rolled-back') return
    if (state.status === undefined || state.status === 'manual') { await this.#startPlan(state, plan); return }

    const now = this.#now()
    const lastLook = state.lastAnalysisAt ?? state.stepStartedAt ?? 0
    if (now - lastLook < plan.intervalMs) return

    const window = await this.#readWindow(route, state.stepStartedAt ?? now, now)
    const decision = decideStep({ plan, state: toStepState(state), window, now })
    await this.#apply(state, plan, decision, now)
  }

  /** A route with a plan and no rollout yet: it enters the step its percentage is on, or the first. */
  async #startPlan (state: RolloutState, plan: RolloutPlan): Promise<void> {
    const now = this.#now()
    const stepIndex = stepAtOrBelow(plan, state.percentage)
    const percentage = Math.max(state.percentage, plan.steps[stepIndex] ?? 0)
    const change: RolloutStateChange = { ...carry(state), ...onStep(plan, stepIndex, percentage, now), actor: 'controller', reason: 'plan started', lastAnalysisAt: now }
    const history = { actor: 'controller', action: 'start', from: state.percentage, to: percentage, reason: `plan started at step ${stepIndex + 1} of ${plan.steps.length}` }
    await this.#write(state, change, history, now, describeStart(state.route, history, stepIndex, plan))
  }

  async #readWindow (route: string, from: number, to: number): Promise<StepWindow> {
    const redis = this.#redis as RedisClient
    const [divergence, live] = await Promise.all([
      readDivergence(redis, this.#options.keys, route, from, to),
      readLiveFigures(redis, this.#options.keys, route, from, to)
    ])

    return {
      comparedPairs: divergence.compared,
      divergingPairs: divergence.diverging + divergence.statusMismatch,
      candidateRequests: live.candidate.requests,
      candidateErrors: live.candidate.errors,
      baselineRequests: live.baseline.requests,
      baselineErrors: live.baseline.errors,
      candidateFallbacks: live.candidate.fallbacks,
      candidateP99Ms: liveP99(live.candidate) ?? 0,
      baselineP99Ms: liveP99(live.baseline) ?? 0
    }
  }

  async #apply (state: RolloutState, plan: RolloutPlan, decision: Decision, now: number): Promise<void> {
    const base = { ...carry(state), lastAnalysisAt: now, failingIntervals: decision.failingIntervals, actor: 'controller' }
    const history = (action: string, to: number): Omit<HistoryEntry, 'at' | 'route'> =>
      ({ actor: 'controller', action, from: state.percentage, to, reason: decision.reason, figures: decision.analysis })

    switch (decision.kind) {
      case 'hold':
        // Not a change: the last change's actor and reason stay.
        await this.#write(state, { ...base, actor: state.actor, reason: state.reason, waitingFor: decision.reason }, undefined, now)
        return
      case 'promote':
        await this.#write(state, { ...base, ...onStep(plan, decision.stepIndex, decision.percentage, now), reason: decision.reason, lastAnalysisAt: now }, history('promote', decision.percentage), now)
        return
      case 'roll-back':
        await this.#write(state, {
          ...base,
          percentage: decision.percentage,
          stepIndex: decision.stepIndex,
          stepStartedAt: now,
          failingIntervals: 0,
          status: 'rolled-back',
          reason: decision.reason,
          waitingFor: 'rolled back: waiting for a person to retry'
        }, history('roll-back', decision.percentage), now)
        return
      case 'pause':
        await this.#write(state, { ...base, status: 'paused', reason: decision.reason, waitingFor: decision.reason }, history('pause', state.percentage), now)
        return
      case 'complete': {
        const newlyComplete = state.status !== 'complete'
        const change = newlyComplete ? { reason: decision.reason } : { actor: state.actor, reason: state.reason }
        await this.#write(state, { ...base, ...change, status: 'complete', waitingFor: decision.reason }, newlyComplete ? history('complete', state.percentage) : undefined, now)
      }
    }
  }

  /** Writes only over the state the decision was taken on; a change in between wins. */
  async #write (state: RolloutState, change: RolloutStateChange, history: Omit<HistoryEntry, 'at' | 'route'> | undefined, now: number, message?: string): Promise<void> {
    const written = await writeRolloutState(this.#redis as RedisClient, this.#options.keys, state.route, change, { expectVersion: state.version, history, now })
    if (written === undefined) {
      this.#options.logger.info({ route: state.route }, 'route changed during the analysis; the decision is dropped and taken again next interval')
      return
    }
    if (history !== undefined) {
      // A rollback is what on-call looks for in the logs: it stands out
      // from the promotions and pauses of a plan that goes well.
      const level = history.action === 'roll-back' ? 'warn' : 'info'
      this.#options.logger[level]({ route: state.route, action: history.action, from: history.from, to: history.to, reason: history.reason }, message ?? describeChange(state.route, history))
    }
  }

  async #onLeadership (leading: boolean): Promise<void> {
    this.#options.logger.info({ holder: this.#holder }, leading ? 'this process now leads the rollout controller' : 'this process no longer leads the rollout controller')
    if (!leading) return

    // What happened before this process led was someone else's to notify.
    for (const { route } of this.#routes) {
      const entries = await readHistory(this.#redis as RedisClient, this.#options.keys, route.name, recentEntries).catch(() => [])
      this.#notified.set(route.name, new Set(entries.map(entryKey)))
    }
  }

  async #notifyNewEntries (route: string): Promise<void> {
    if (!this.leading) return

    const entries = await readHistory(this.#redis as RedisClient, this.#options.keys, route, recentEntries).catch(() => [])
    const notified = this.#notified.get(route) ?? new Set<string>()
    for (const entry of entries.reverse()) {
      const key = entryKey(entry)
      if (notified.has(key)) continue
      notified.add(key)
      this.#options.notifier.notify(entry)
    }
    this.#notified.set(route, new Set([...notified].slice(-recentEntries * 2)))
  }
}

function toStepState (state: RolloutState): Parameters<typeof decideStep>[0]['state'] {
  return {
    stepIndex: state.stepIndex ?? 0,
    percentage: state.percentage,
    stepStartedAt: state.stepStartedAt ?? state.updatedAt,
    failingIntervals: state.failingIntervals ?? 0,
    paused: state.status === 'paused',
    rolledBack: state.status === 'rolled-back',
    automationPaused: false
  }
}

function carry (state: RolloutState): RolloutStateChange {
  const { version: _version, updatedAt: _updatedAt, route: _route, ...rest } = state
  return rest
}

function entryKey (entry: HistoryEntry): string {
  return `${entry.at}\u0000${entry.action}\u0000${entry.from}\u0000${entry.to}\u0000${entry.actor}`
}

/** "products: promote from 10% to 25%"; an action that leaves the percentage where it was says where ("feed: complete at 100%"). */
export function describeChange (route: string, history: { action: string, from: number, to: number }): string {
  if (history.from === history.to) return `${route}: ${history.action} at ${history.to}%`

  return `${route}: ${history.action} from ${history.from}% to ${history.to}%`
}

/**
 * A plan usually starts on the step the route already serves, and "start
 * from 10 to 10" read as a change that was none: say where it started.
 */
function describeStart (route: string, history: { from: number, to: number }, stepIndex: number, plan: RolloutPlan): string {
  const started = `${route}: plan started at ${history.to}% (step ${stepIndex + 1} of ${plan.steps.length})`

  return history.from === history.to ? started : `${started}, up from ${history.from}%`
}
