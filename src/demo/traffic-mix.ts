/**
 * What the demo's simulated users ask for: the requests a shop front end
 * makes, weighted like a browsing session. Placeholders in braces are
 * filled with ids that exist in config/demo-db.json.
 *
 * HEAD and DELETE are left out on purpose: json-server 1.0.0-beta.3 deletes
 * the item on a HEAD of /<resource>/<id>, and the two generations cascade
 * deletes differently, which would make their data drift apart.
 */
export interface TrafficEntry {
  weight: number
  method: 'GET' | 'POST'
  path: string
  body?: string
}

export const trafficMix: TrafficEntry[] = [
  { weight: 6, method: 'GET', path: '/products' },
  { weight: 4, method: 'GET', path: '/products?categoryId={categoryId}' },
  { weight: 2, method: 'GET', path: '/products?brand=Sonic' },
  { weight: 2, method: 'GET', path: '/products?price_gte=20&price_lte=100' },
  { weight: 2, method: 'GET', path: '/products?_sort=price' },
  { weight: 2, method: 'GET', path: '/products?details.color=black' },
  { weight: 18, method: 'GET', path: '/products/{productId}' },
  { weight: 5, method: 'GET', path: '/products/{productId}?_embed=reviews' },
  { weight: 8, method: 'GET', path: '/reviews?productId={productId}' },
  { weight: 3, method: 'GET', path: '/reviews/{reviewId}' },
  { weight: 2, method: 'GET', path: '/reviews?rating_gte=4' },
  { weight: 5, method: 'GET', path: '/users/{userId}' },
  { weight: 2, method: 'GET', path: '/users?tier=gold' },
  { weight: 3, method: 'GET', path: '/categories' },
  { weight: 2, method: 'GET', path: '/categories/{categoryId}' },
  { weight: 4, method: 'GET', path: '/settings' },
  { weight: 6, method: 'GET', path: '/orders?userId={userId}' },
  { weight: 6, method: 'GET', path: '/orders/{orderId}' },
  { weight: 2, method: 'GET', path: '/orders?status=pending' },
  { weight: 2, method: 'POST', path: '/carts', body: '{"userId":"{userId}","items":[{"productId":"{productId}","qty":1}]}' }
]

const ids: Record<string, string[]> = {
  productId: range(1, 12),
  categoryId: range(1, 4),
  userId: range(1, 6),
  reviewId: range(1, 12),
  orderId: range(1001, 1010)
}

const totalWeight = trafficMix.reduce((sum, entry) => sum + entry.weight, 0)

/** Draws one request from the mix, placeholders filled. */
export function drawRequest (random: () => number = Math.random): { method: 'GET' | 'POST', path: string, body: string | undefined } {
  let pick = random() * totalWeight
  const entry = trafficMix.find((candidate) => (pick -= candidate.weight) < 0) ?? trafficMix[0] as TrafficEntry
  const fill = (text: string): string => text.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const choices = ids[name] ?? ['1']
    return choices[Math.floor(random() * choices.length)] as string
  })

  return { method: entry.method, path: fill(entry.path), body: entry.body === undefined ? undefined : fill(entry.body) }
}

function range (from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_value, index) => String(from + index))
}
