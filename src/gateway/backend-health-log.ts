import type { Logger } from '../telemetry/logger.js'
import type { BackendName, FailureKind } from './upstream.js'

/**
 * Failed live attempts in a row after which a backend is logged as failing.
 * Arbitrary: enough that a stray error or two says nothing.
 */
export const failuresToWarn = 5

interface BackendState {
  failures: number
  latest: FailureKind | undefined
}

/**
 * Says when a route's backend starts failing live requests and when it
 * answers again: one warn and one info per outage, never one line per
 * request. The metrics count every attempt; this is for whoever reads the
 * log to find out what happened.
 */
export class BackendHealthLog {
  readonly #route: string
  readonly #logger: Logger
  readonly #states: Record<BackendName, BackendState> = {
    baseline: { failures: 0, latest: undefined },
    candidate: { failures: 0, latest: undefined }
  }

  constructor (route: string, logger: Logger) {
    this.#route = route
    this.#logger = logger
  }

  attempted (backend: BackendName, failed: boolean): void {
    const state = this.#states[backend]
    if (failed) {
      state.failures++
      if (state.failures === failuresToWarn) this.#warnFailing(backend, state)
      return
    }

    if (state.failures >= failuresToWarn) this.#announceRecovery(backend, state)
    state.failures = 0
    state.latest = undefined
  }

  /** What the latest failure of a backend was, when the chain moved past it. */
  fellBack (backend: BackendName, kind: FailureKind): void {
    this.#states[backend].latest = kind
  }

  #warnFailing (backend: BackendName, state: BackendState): void {
    const latest = state.latest === undefined ? '' : ` (latest: ${state.latest})`
    this.#logger.warn({ route: this.#route, backend, failures: state.failures, reason: state.latest },
      `${this.#route}: ${backend} failed ${state.failures} live requests in a row${latest}; the fallback chain serves them while it fails`)
  }

  #announceRecovery (backend: BackendName, state: BackendState): void {
    this.#logger.info({ route: this.#route, backend, failures: state.failures },
      `${this.#route}: ${backend} answers again after ${state.failures} failed live requests`)
  }
}
