/**
 * How long a trouble must stay away before its end is told, in ms. A
 * minute (arbitrary) outlasts the flicker of Redis near maxmemory or of a
 * queue near its depth, where trouble comes back every few seconds, and
 * still tells an operator soon enough that mirroring goes on.
 */
export const calmMs = 60_000

/**
 * Decides which changes of a troubled state an operator is told of. The
 * start of a trouble is told at once; its end only once the trouble has
 * stayed away for `calmMs`. A trouble that comes back before then was
 * never told as over, so it is not told again: a state flickering near a
 * limit gives one warn line and, once it has settled, one info line. A
 * trouble that begins after its end was told is told as new.
 */
export class TroubleNotice {
  readonly #now: () => number
  /** The start was told and the end not yet. */
  #told = false
  /** When the trouble last went away (epoch ms); undefined while it lasts. */
  #awaySince: number | undefined

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  /** The trouble is here: true when its start is to be told now. */
  present (): boolean {
    this.#awaySince = undefined
    if (this.#told) return false

    this.#told = true
    return true
  }

  /** The trouble is not here: true when its end is to be told now. */
  absent (): boolean {
    if (!this.#told) return false

    const now = this.#now()
    this.#awaySince ??= now
    if (now - this.#awaySince < calmMs) return false

    this.#told = false
    this.#awaySince = undefined
    return true
  }
}
