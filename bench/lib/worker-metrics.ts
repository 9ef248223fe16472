import { fetchMetricsText, parseSamples, sumBy, type MetricSample } from './gateway-metrics.js'

/** A diff worker's own account, from its /metrics. */
export interface WorkerMetricsSummary {
  /** Pairs judged, over every route and verdict. */
  pairs: number
  /** Batches taken from the queue, by outcome (counted, missing, failed). */
  batchesByOutcome: Record<string, number>
  /** Time spent judging pairs (decode, normalize, compare), summed over pairs. */
  judgeSeconds: number
  /** Time spent in garbage collection, by kind. */
  gcSecondsByKind: Record<string, number>
}

const prefix = 'shadowramp_'

export async function readWorkerMetrics (metricsUrl: string): Promise<WorkerMetricsSummary> {
  const samples = parseSamples(await fetchMetricsText(metricsUrl))

  return {
    pairs: total(samples, `${prefix}worker_pairs_total`),
    batchesByOutcome: sumBy(samples, `${prefix}worker_batches_total`, 'outcome'),
    judgeSeconds: total(samples, `${prefix}worker_pair_seconds_sum`),
    gcSecondsByKind: sumBy(samples, `${prefix}nodejs_gc_duration_seconds_sum`, 'kind')
  }
}

function total (samples: MetricSample[], name: string): number {
  return samples.reduce((sum, sample) => sample.name === name ? sum + sample.value : sum, 0)
}
