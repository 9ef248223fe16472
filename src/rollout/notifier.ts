import { request } from 'undici'
import type { HistoryEntry } from '../store/rollout-store.js'
import type { Logger } from '../telemetry/logger.js'

export interface Notifier {
  notify: (entry: HistoryEntry) => void
}

/**
 * Posts each rollout change to a webhook as JSON: `text` is a line chat
 * tools show as it is; the other fields are for machines. Never waits on
 * the caller's behalf and never throws: a failed call is logged.
 */
export function createWebhookNotifier (url: string | undefined, timeoutMs: number, logger: Logger): Notifier {
  if (url === undefined) return { notify: () => {} }

  return {
    notify: (entry) => {
      const body = JSON.stringify({ text: describeEntry(entry), ...entry })
      request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
        .then(async (response) => {
          await response.body.dump()
          if (response.statusCode >= 300) logger.warn({ status: response.statusCode, route: entry.route, action: entry.action }, 'notification webhook refused the notification')
        })
        .catch((error: unknown) => logger.warn({ err: error, route: entry.route, action: entry.action }, 'notification webhook unreachable'))
    }
  }
}

/** "products: promote 5% → 10% by controller: every check passed on 612 pairs". */
export function describeEntry (entry: HistoryEntry): string {
  return `${entry.route}: ${entry.action} ${entry.from}% → ${entry.to}% by ${entry.actor}: ${entry.reason}`
}
