/**
 * Benchmarks send load only to servers they started themselves on
 * 127.0.0.1. Every load generator checks its target here first, so a typo
 * or a stray environment value can never aim load at another host.
 */
export function requireLoopback (url: string): URL {
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' || parsed.hostname !== '127.0.0.1') {
    throw new Error(`refusing to send load to ${url}: benchmarks target http://127.0.0.1 only`)
  }

  return parsed
}
