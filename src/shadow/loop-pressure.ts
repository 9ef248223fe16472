import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/**
 * Tells whether this process's event loop is close to saturation: the
 * share of the last window it spent running rather than waiting for I/O.
 * Shadow work shares the loop with live requests, so while the loop is
 * this busy, mirroring stands aside and the live requests get the core.
 */
export class LoopPressure {
  readonly #limit: number
  readonly #timer: NodeJS.Timeout | undefined
  #last: EventLoopUtilization
  #strained = false

  /**
   * `limit` is the busy share (0 to 1) at which mirroring stops, judged
   * every `windowMs`; 1 turns the guard off, since a loop that never
   * waits (a load generator in the same process) does reach 1.
   */
  constructor (limit: number, windowMs = 500) {
    this.#limit = limit
    this.#last = performance.eventLoopUtilization()
    if (limit >= 1) return

    this.#timer = setInterval(() => this.#judge(), windowMs)
    this.#timer.unref()
  }

  /** The last window's busy share was at or over the limit. */
  get strained (): boolean {
    return this.#strained
  }

  close (): void {
    clearInterval(this.#timer)
  }

  #judge (): void {
    const now = performance.eventLoopUtilization()
    const window = performance.eventLoopUtilization(now, this.#last)
    this.#last = now
    this.#strained = window.utilization >= this.#limit
  }
}
