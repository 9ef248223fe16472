import type { MirrorConfig } from '../config/schema.js'
import type { SkipReason } from './shadow-metrics.js'

export type Admission = 'mirror' | 'not-sampled' | SkipReason

/** What the budget guard tells about a change of the rate it allows. */
export interface RateChange {
  factor: number
  reason: string
}

/** Judged once a second: the guard never waits for more than one window. */
const windowMs = 1_000
/** Healthy windows in a row before the rate doubles again. */
const windowsToRecover = 3
/** The rate never backs off below 1/128 of the sample rate, so recovery is still seen. */
const minFactor = 1 / 128
/** Share of shadow requests failing or slow that counts as struggling. */
const struggleShare = 0.2
/** A window with fewer answers than this is not judged on its shares. */
const minAnswers = 5

/**
 * Decides which live requests of one route are mirrored: the sample rate,
 * the methods, a token bucket capping shadow requests a second, a cap on
 * shadow requests in flight, and a budget guard that halves the rate while
 * the shadow backend fails or slows down, and doubles it back once it is
 * healthy again.
 */
export class MirrorPolicy {
  readonly #config: MirrorConfig
  readonly #methods: ReadonlySet<string>
  readonly #onRateChange: (change: RateChange) => void
  #tokens: number
  #refilledAt: number
  #inFlight = 0
  #factor = 1
  #window: Window = { startedAt: 0, answered: 0, failed: 0, slow: 0, busy: 0 }
  #healthyWindows = 0

  constructor (config: MirrorConfig, now: number, onRateChange: (change: RateChange) => void = () => {}) {
    this.#config = config
    this.#methods = new Set(config.methods)
    this.#onRateChange = onRateChange
    this.#tokens = config.maxPerSecond
    this.#refilledAt = now
    this.#window.startedAt = now
  }

  get factor (): number {
    return this.#factor
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /**
   * While mirroring stands aside (the gateway too busy, the queue taking no
   * pairs): a request that would have been sampled is skipped for `reason`,
   * so the skip is counted; the budget guard and the token bucket are left
   * as they were.
   */
  standAside<Reason extends SkipReason> (method: string, reason: Reason, random: number = Math.random()): 'not-sampled' | Reason {
    return this.#isSampled(method, random) ? reason : 'not-sampled'
  }

  admit (method: string, now: number, random: number = Math.random()): Admission {
    if (!this.#isSampled(method, random)) return 'not-sampled'

    this.#judgeWindow(now)
    if (random * 100 >= this.#config.sampleRate * this.#factor) return 'backoff'
    if (this.#inFlight >= this.#config.maxInFlight) { this.#window.busy++; return 'busy' }
    if (!this.#takeToken(now)) return 'rate-limit'

    this.#inFlight++
    return 'mirror'
  }

  #isSampled (method: string, random: number): boolean {
    return this.#methods.has(method) && random * 100 < this.#config.sampleRate
  }

  /** A shadow request has ended, with an answer or a failure. */
  release (latencyMs: number, failed: boolean): void {
    this.#inFlight--
    this.#window.answered++
    if (failed) this.#window.failed++
    else if (latencyMs > this.#config.timeoutMs / 2) this.#window.slow++
  }

  #takeToken (now: number): boolean {
    const refill = ((now - this.#refilledAt) / 1_000) * this.#config.maxPerSecond
    this.#tokens = Math.min(this.#config.maxPerSecond, this.#tokens + refill)
    this.#refilledAt = now
    if (this.#tokens < 1) return false

    this.#tokens -= 1
    return true
  }

  #judgeWindow (now: number): void {
    const age = now - this.#window.startedAt
    if (age < windowMs) return

    const window = this.#window
    this.#window = { startedAt: now, answered: 0, failed: 0, slow: 0, busy: 0 }
    const verdict = judge(window, age >= 2 * windowMs)
    if (verdict === 'unclear') return
    if (verdict === 'struggling') {
      this.#healthyWindows = 0
      this.#setFactor(Math.max(minFactor, this.#factor / 2), describeStruggle(window, age))
      return
    }

    this.#healthyWindows++
    if (this.#factor < 1 && this.#healthyWindows >= windowsToRecover) {
      this.#healthyWindows = 0
      this.#setFactor(Math.min(1, this.#factor * 2), describeRecovery(this.#factor * 2))
    }
  }

  #setFactor (factor: number, reason: string): void {
    if (factor === this.#factor) return

    this.#factor = factor
    this.#onRateChange({ factor, reason })
  }
}

interface Window {
  startedAt: number
  answered: number
  failed: number
  slow: number
  busy: number
}

/**
 * What a window says of the shadow backend. Struggling: a shadow request
 * was skipped for too many in flight, more than a fifth of its answers
 * failed or were slow, or, with too few answers for a share to mean much,
 * every one of them did. Healthy: answers, and none of them in trouble
 * beyond that fifth. Unclear, which changes nothing: no answers at all,
 * too few mixed ones, or a window judged long after it began (the route
 * went quiet), whose trouble is old news; its good answers still count
 * towards recovery, or a route with sparse traffic would never recover.
 */
function judge (window: Window, stale: boolean): 'struggling' | 'healthy' | 'unclear' {
  const { answered, failed, slow, busy } = window
  const troubled = failed + slow
  if (answered === 0 && busy === 0) return 'unclear'
  if (stale) return troubled === 0 && busy === 0 ? 'healthy' : 'unclear'
  if (busy > 0) return 'struggling'
  if (answered >= minAnswers) return troubled / answered > struggleShare ? 'struggling' : 'healthy'
  if (troubled === 0) return 'healthy'

  return troubled === answered ? 'struggling' : 'unclear'
}

/** What a struggling window saw, over its true length: judged as requests arrive, it spans one to two seconds. */
function describeStruggle ({ answered, failed, slow, busy }: Window, ageMs: number): string {
  const span = `in the last ${(ageMs / 1_000).toFixed(1)} s`
  if (busy > 0) return `${shadowRequests(busy)} skipped ${span}: too many waiting for an answer`

  return `${failed} failed and ${slow} slow of ${shadowRequests(answered)} ${span}`
}

function shadowRequests (count: number): string {
  return count === 1 ? '1 shadow request' : `${count} shadow requests`
}

/**
 * Windows are judged as requests arrive, so a route that goes quiet while
 * backed off keeps its factor: the reason says what it waits for.
 */
function describeRecovery (factor: number): string {
  if (factor >= 1) return 'shadow backend healthy again'

  return `shadow backend healthy again; the rate doubles after every ${windowsToRecover} healthy seconds of traffic`
}
