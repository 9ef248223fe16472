import t from 'tap'
import { request } from 'undici'
import { startTestShadowramp } from '../helpers/gateway.js'
import { json, startBackend } from '../helpers/http.js'
import { waitForPairs } from '../helpers/pairs.js'
import { dropNamespace, testRedisUrl, uniqueNamespace } from '../helpers/redis.js'

/**
 * A backend that answers every POST with 201 and the Location it is told
 * to give, by query: `?location=<value>`, `{self}` standing for its own
 * origin.
 */
async function startLocatingBackend () {
  const backend = await startBackend((incoming, response) => {
    const asked = new URL(incoming.url, 'http://x').searchParams.get('location') ?? ''
    const location = asked.replace('{self}', backend.url)
    json(response, 201, { created: true }, { location, 'content-location': location })
  })
  return backend
}

t.test("a Location naming the backend itself reaches the client as a path on the gateway, never the backend's address", async (t) => {
  const baseline = await startLocatingBackend()
  const prefixed = await startLocatingBackend()
  const gateway = await startTestShadowramp({
    routes: [
      { name: 'carts', paths: ['/carts', '/carts/*'], baseline: { url: baseline.url }, candidate: { url: baseline.url }, percentage: 0 },
      { name: 'orders', paths: ['/orders', '/orders/*'], baseline: { url: `${prefixed.url}/v2` }, candidate: { url: `${prefixed.url}/v2` }, percentage: 0 }
    ]
  })
  t.teardown(async () => { await gateway.close(); await baseline.close(); await prefixed.close() })

  const locationFor = async (path: string, location: string): Promise<unknown> => {
    const response = await request(`${gateway.gatewayUrl}${path}?location=${encodeURIComponent(location)}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    await response.body.dump()
    t.equal(response.headers['content-location'], response.headers.location, 'Content-Location is treated alike')
    return response.headers.location
  }

  t.equal(await locationFor('/carts', '{self}/carts/51'), '/carts/51', "the backend's origin is taken off")
  t.equal(await locationFor('/carts', '{self}/carts/51?fresh=1#top'), '/carts/51?fresh=1#top', 'its query and fragment stay')
  t.equal(await locationFor('/carts', '/carts/52'), '/carts/52', 'a path passes as it is')
  t.equal(await locationFor('/carts', 'https://cdn.example/carts/51'), 'https://cdn.example/carts/51', 'another host passes as it is')
  t.equal(await locationFor('/carts', '//cdn.example/x'), '//cdn.example/x', 'a network-path reference passes as it is')
  t.equal(await locationFor('/carts', 'carts/53'), 'carts/53', 'a relative reference passes as it is')

  t.equal(await locationFor('/orders', '{self}/v2/orders/7'), '/orders/7', "a prefixed backend's prefix is taken off too")
  t.equal(await locationFor('/orders', '/v2/orders/8'), '/orders/8', 'from a path under the prefix as well')
  t.equal(await locationFor('/orders', '/v2'), '/', 'the prefix itself is the root')
  t.equal(await locationFor('/orders', '/v20/orders/9'), '/v20/orders/9', 'a path that only starts with the same letters is not under it')
})

t.test('the links of a paged answer that name the backend reach the client as paths on the gateway', async (t) => {
  const backend = await startBackend((incoming, response) => {
    const self = backend.url
    const links = incoming.url.includes('many')
      ? [`<${self}/items?_page=1>; rel="first"`, `<${self}/items?_page=2>; rel="next"`]
      : [`<${self}/items?_page=1>; rel="first", <https://docs.example/paging>; rel="help", <${self}/items?_page=9>; rel="last"`]
    response.setHeader('link', links)
    json(response, 200, [])
  })
  const gateway = await startTestShadowramp({
    routes: [{ name: 'items', paths: ['/items', '/items/*'], baseline: { url: backend.url }, candidate: { url: backend.url }, percentage: 0 }]
  })
  t.teardown(async () => { await gateway.close(); await backend.close() })

  const one = await request(`${gateway.gatewayUrl}/items?_page=1`)
  await one.body.dump()
  t.equal(one.headers.link, '</items?_page=1>; rel="first", <https://docs.example/paging>; rel="help", </items?_page=9>; rel="last"',
    "each link to the backend loses its origin; another host's stays")
  t.notMatch(String(one.headers.link), backend.url, "the backend's address is not in it")

  const many = await request(`${gateway.gatewayUrl}/items/many`)
  await many.body.dump()
  t.match(String(many.headers.link), /^<\/items\?_page=1>; rel="first", ?<\/items\?_page=2>; rel="next"$/, 'Link sent as several header lines too')
})

t.test('a mirrored pair keeps both answers as the client would get them, so the backends\' addresses do not differ', async (t) => {
  // Two backends on their own ports, both answering with a link to themselves.
  const answer = (backend: () => string) => async (_incoming: unknown, response: import('node:http').ServerResponse) => {
    json(response, 200, { page: 1 }, { location: `${backend()}/items/1`, link: `<${backend()}/items?_page=2>; rel="next"` })
  }
  const baseline = await startBackend(answer(() => baseline.url))
  const candidate = await startBackend(answer(() => candidate.url))
  const redisUrl = await testRedisUrl()
  const namespace = uniqueNamespace('locations')
  const gateway = await startTestShadowramp({
    redis: { url: redisUrl, namespace },
    routes: [{ name: 'items', paths: ['/items', '/items/*'], baseline: { url: baseline.url }, candidate: { url: candidate.url }, percentage: 0, mirror: { noiseSampleRate: 0 } }]
  }, { redisUrl })
  t.teardown(async () => { await gateway.close(); await baseline.close(); await candidate.close(); await dropNamespace(redisUrl, namespace) })

  await (await request(`${gateway.gatewayUrl}/items`)).body.dump()
  const [pair] = await waitForPairs(redisUrl, namespace, 1)
  t.same([pair?.baseline.headers.location, pair?.candidate.headers.location], ['/items/1', '/items/1'], 'the live and the shadow answer alike')
  t.same([pair?.baseline.headers.link, pair?.candidate.headers.link], ['</items?_page=2>; rel="next"', '</items?_page=2>; rel="next"'])
})
