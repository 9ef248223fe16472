/*
 * Confidence intervals for the rates the analysis judges. Pure arithmetic,
 * no dependencies, so the decision rule can be checked against published
 * values (Newcombe 1998, "Two-sided confidence intervals for the single
 * proportion" and "Interval estimation for the difference between
 * independent proportions").
 */

/**
 * The normal quantile of a two-sided 95% interval. Each bound is therefore
 * a one-sided 97.5% bound: a promotion or a rollback resting on one bound
 * is wrong at most 2.5% of the time at a single look.
 */
export const z95 = 1.959963984540054

/** A rate with its interval; all three are fractions from 0 to 1. */
export interface RateInterval {
  /** Point estimate: count over total, or 0 when there is no sample. */
  estimate: number
  lower: number
  upper: number
}

/**
 * The Wilson score interval for `count` successes in `total` trials.
 * Unlike the textbook interval (estimate ± z·standard error) it stays
 * inside 0–1 and does not collapse to a width of zero when the count is 0,
 * which is the usual case for divergence and errors: "0 of 300" still
 * leaves an upper bound of about 1.3%.
 *
 * With no trials the interval is the whole range: nothing is known.
 */
export function wilsonInterval (count: number, total: number, z = z95): RateInterval {
  checkCounts(count, total)
  if (total === 0) return { estimate: 0, lower: 0, upper: 1 }

  const zSquared = z * z
  const denominator = total + zSquared
  const centre = (count + zSquared / 2) / denominator
  const halfWidth = (z / denominator) * Math.sqrt((count * (total - count)) / total + zSquared / 4)

  // At 0 and at total the exact bound is 0 or 1; rounding would leave -1e-17.
  const lower = count === 0 ? 0 : Math.max(0, centre - halfWidth)
  const upper = count === total ? 1 : Math.min(1, centre + halfWidth)

  return { estimate: count / total, lower, upper }
}

/** Counts for one side of a comparison of two rates. */
export interface RateSample {
  count: number
  total: number
}

/**
 * An interval for the difference of two independent rates (first minus
 * second), built from each side's Wilson interval (Newcombe's hybrid score
 * method). It keeps Wilson's good behaviour at counts of 0, where the
 * textbook difference interval claims a certainty it does not have.
 */
export function rateDifferenceInterval (
  first: RateSample, second: RateSample, z = z95
): RateInterval {
  const a = wilsonInterval(first.count, first.total, z)
  const b = wilsonInterval(second.count, second.total, z)
  const estimate = a.estimate - b.estimate

  const lowerReach = Math.hypot(a.estimate - a.lower, b.upper - b.estimate)
  const upperReach = Math.hypot(a.upper - a.estimate, b.estimate - b.lower)

  const lower = Math.max(-1, estimate - lowerReach)
  const upper = Math.min(1, estimate + upperReach)

  return { estimate, lower, upper }
}

function checkCounts (count: number, total: number): void {
  const valid = Number.isInteger(count) && Number.isInteger(total) && count >= 0 && count <= total
  if (valid) return

  throw new RangeError(`expected whole counts with 0 <= count <= total, got ${count} of ${total}`)
}
