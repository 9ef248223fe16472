import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { latencyBuckets } from '../telemetry/metrics.js'

/** Why the queue takes no pairs at the moment: a pair made now would only be dropped. */
export type QueueRefusal = 'redis-unreachable' | 'redis-slow' | 'redis-refused' | 'queue-full'

/** Why a live request that could have been mirrored was not. */
export type SkipReason = 'rate-limit' | 'busy' | 'backoff' | 'gateway-busy' | QueueRefusal

/**
 * Why a pair that was being captured never reached the queue;
 * `larger-than-pending-bound`: the pair alone is larger than
 * shadow.maxPendingBytes.
 */
export type DropReason =
  | 'live-fell-back' | 'live-incomplete' | 'larger-than-pending-bound' | QueueRefusal

export interface ShadowMetrics {
  skipped: Counter<'route' | 'reason'>
  captured: Counter<'route'>
  enqueued: Counter<'route'>
  dropped: Counter<'route' | 'reason'>
  tooLarge: Counter<'route'>
  identical: Counter<'route'>
  bytesSaved: Counter<'route'>
  shadowDuration: Histogram<'route' | 'backend'>
  shadowErrors: Counter<'route' | 'backend' | 'kind'>
  rateFactor: Gauge<'route'>
  queueDepth: Gauge
  pendingBytes: Gauge
}

export function createShadowMetrics (registry: Registry): ShadowMetrics {
  const registers = [registry]

  return {
    skipped: new Counter({ name: 'shadowramp_shadow_skipped_total', help: 'Live requests sampled for mirroring but not mirrored, by reason.', labelNames: ['route', 'reason'], registers }),
    captured: new Counter({ name: 'shadowramp_pairs_captured_total', help: 'Pairs with both answers captured.', labelNames: ['route'], registers }),
    enqueued: new Counter({ name: 'shadowramp_pairs_enqueued_total', help: 'Pairs written to the queue for the diff workers.', labelNames: ['route'], registers }),
    dropped: new Counter({ name: 'shadowramp_pairs_dropped_total', help: 'Pairs lost before the queue, by reason.', labelNames: ['route', 'reason'], registers }),
    tooLarge: new Counter({ name: 'shadowramp_pairs_too_large_total', help: 'Pairs with a body over the capture cap, queued without that body.', labelNames: ['route'], registers }),
    identical: new Counter({ name: 'shadowramp_pairs_bodies_identical_total', help: 'Pairs whose status and body bytes were equal, queued without bodies.', labelNames: ['route'], registers }),
    bytesSaved: new Counter({ name: 'shadowramp_pair_body_bytes_saved_total', help: 'Body bytes queued pairs left out by carrying an answer as its differences from the baseline\'s.', labelNames: ['route'], registers }),
    shadowDuration: new Histogram({ name: 'shadowramp_shadow_duration_seconds', help: 'Time the shadow backend took to answer with its response head.', labelNames: ['route', 'backend'], buckets: latencyBuckets, registers }),
    shadowErrors: new Counter({ name: 'shadowramp_shadow_errors_total', help: 'Shadow requests without an answer, by backend and kind.', labelNames: ['route', 'backend', 'kind'], registers }),
    rateFactor: new Gauge({ name: 'shadowramp_shadow_rate_factor', help: 'Share of the configured sample rate in force (1 = all of it); below 1 while the shadow backend struggles.', labelNames: ['route'], registers }),
    queueDepth: new Gauge({ name: 'shadowramp_queue_depth', help: 'Batches of pairs waiting for a diff worker, as last read.', registers }),
    pendingBytes: new Gauge({ name: 'shadowramp_shadow_pending_bytes', help: 'Bytes of pairs held in this process waiting to be written to Redis.', registers })
  }
}
