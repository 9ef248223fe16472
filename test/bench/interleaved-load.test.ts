import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { measureInterleavedClosedLoop, measureInterleavedOpenLoop, rateOver } from '../../bench/lib/interleaved-load.js'
import { percentile } from '../../bench/lib/latency-stats.js'

/** A server on 127.0.0.1:0 answering every request after `delayMs`. */
async function startServer (delayMs: number): Promise<{ url: string, server: Server }> {
  const server = createServer((request, response) => {
    request.resume()
    setTimeout(() => response.end('{"ok":true}'), delayMs)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return { url: `http://127.0.0.1:${port}/`, server }
}

t.test('fixed-rate turns pool each target apart, slices kept, in the same order every cycle', async (t) => {
  const fast = await startServer(0)
  const slow = await startServer(25)
  t.teardown(() => { fast.server.close(); slow.server.close() })
  const turns: string[] = []

  const pooled = await measureInterleavedOpenLoop({
    targets: { fast: fast.url, slow: slow.url },
    cycles: 4,
    sliceSeconds: 0.2,
    gapMs: 10,
    ratePerSecond: 100,
    connections: 8,
    afterSlice: async (name) => { turns.push(name) }
  })

  t.same(turns, ['fast', 'slow', 'fast', 'slow', 'fast', 'slow', 'fast', 'slow'])
  t.equal(pooled.fast.answered, 80, '4 slices of 20 requests')
  t.equal(pooled.slow.answered, 80)
  t.equal(pooled.fast.failed, 0)
  t.ok(pooled.slow.p50Ms >= 25, `the slow target's delay shows in its own figures: p50 ${pooled.slow.p50Ms} ms`)
  // Not the fast target's p99: under a busy test run a single answer held
  // up by the machine would decide it. Pooled with the slow one's, half of
  // its answers would take 25 ms or more; apart, hardly any do.
  const fastUnder25 = pooled.fast.slices.reduce((sum, slice) => sum + slice.filter((value) => value < 25).length, 0)
  t.ok(fastUnder25 >= 72, `and not in the fast one's: ${fastUnder25} of 80 answers under 25 ms`)
  t.same(pooled.slow.slices.map((slice) => slice.length), [20, 20, 20, 20], 'one slice a cycle, each with its own answers')
  for (const slice of pooled.slow.slices) {
    t.ok(percentile(slice, 0.5) >= 25, `each slice holds the slow answers: p50 ${percentile(slice, 0.5)} ms`)
    t.ok(slice.every((value, index) => index === 0 || (slice[index - 1] ?? 0) <= value), 'sorted, to be pooled again')
  }
})

t.test('each slice holds the answers of its own cycle, and failures are counted per target', async (t) => {
  // Slow for its first 40 requests (the first two cycles of 20), fast after.
  let served = 0
  const changing = createServer((request, response) => {
    request.resume()
    served += 1
    setTimeout(() => response.end('{}'), served <= 40 ? 25 : 0)
  })
  const broken = createServer((request, response) => {
    request.resume()
    response.statusCode = 503
    response.end()
  })
  for (const server of [changing, broken]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { changing.close(); broken.close() })
  const url = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const pooled = await measureInterleavedOpenLoop({
    targets: { changing: url(changing), broken: url(broken) },
    cycles: 4,
    sliceSeconds: 0.2,
    gapMs: 10,
    ratePerSecond: 100,
    connections: 8
  })

  const p50s = pooled.changing.slices.map((slice) => percentile(slice, 0.5))
  t.ok(p50s[0]! >= 25 && p50s[1]! >= 25, `first two cycles slow: p50 ${p50s.join(', ')} ms`)
  t.ok(p50s[2]! < 25 && p50s[3]! < 25, 'last two fast')
  t.equal(pooled.changing.failed, 0)
  t.equal(pooled.broken.failed, 80, 'every 503 counts as failed')
})

t.test('saturation turns give each target its rate over the time it was loaded', async (t) => {
  const fast = await startServer(0)
  const slow = await startServer(20)
  t.teardown(() => { fast.server.close(); slow.server.close() })

  const pooled = await measureInterleavedClosedLoop({
    targets: { fast: fast.url, slow: slow.url }, cycles: 2, sliceSeconds: 0.5, gapMs: 10, connections: 4
  })

  // Four connections, each waiting 20 ms per answer: at most 200 req/s.
  t.ok(pooled.slow.requestsPerSecond > 100 && pooled.slow.requestsPerSecond <= 200,
    `slow target near 4 / 20 ms: ${pooled.slow.requestsPerSecond} req/s`)
  t.ok(pooled.fast.requestsPerSecond > 2 * pooled.slow.requestsPerSecond, 'the fast target answers more')
  t.equal(pooled.fast.failed + pooled.slow.failed, 0)
  t.equal(pooled.slow.slices.length, 2, 'one slice a cycle')
  for (const slice of pooled.slow.slices) t.ok(slice.answered > 0 && slice.seconds >= 0.4, `a slice: ${slice.answered} answers in ${slice.seconds} s`)
  t.equal(rateOver(pooled.slow.slices, [0, 1]), pooled.slow.requestsPerSecond, 'the pooled rate is the slices\' answers over their time')
  t.equal(rateOver(pooled.slow.slices, [1, 1]), pooled.slow.slices[1]!.answered / pooled.slow.slices[1]!.seconds, 'a slice picked twice counts twice')
  t.throws(() => rateOver(pooled.slow.slices, [2]), /no slice 2: there are 2/)
})

t.test('fewer than two cycles give nothing to resample and are refused', async (t) => {
  await t.rejects(measureInterleavedOpenLoop({
    targets: { only: 'http://127.0.0.1:9/' }, cycles: 1, sliceSeconds: 0.1, gapMs: 0, ratePerSecond: 10, connections: 1
  }), /at least 2 cycles, found 1/)
})

t.test('each slice records what the host took from the machine while it ran', async (t) => {
  const { url, server } = await startServer(0)
  t.teardown(() => { server.close() })

  const options = { targets: { only: url }, cycles: 3, sliceSeconds: 0.1, gapMs: 5, connections: 4 }
  const fixed = await measureInterleavedOpenLoop({ ...options, ratePerSecond: 100 })
  const closed = await measureInterleavedClosedLoop(options)

  for (const taken of [fixed.only.sliceStealMs, closed.only.sliceStealMs]) {
    t.equal(taken.length, 3, 'one figure a slice')
    t.ok(taken.every((ms) => Number.isInteger(ms) && ms >= 0 && ms % 10 === 0), `whole ticks of 10 ms: ${taken.join(', ')}`)
  }
})
