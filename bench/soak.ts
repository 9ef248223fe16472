/*
 * A soak: a steady rate of live requests through the gateway, every one
 * mirrored and queued, for ten minutes (by default), with a diff worker
 * draining the queue. Every ten seconds the gateway's resident memory and
 * open file descriptors are sampled. After a warm-up, memory must stay
 * within a stated bound and descriptors must not grow.
 *
 *   node --initial-old-space-size=256 --import tsx bench/soak.ts [--minutes 10] [--rate 300]
 *
 * Everything runs on 127.0.0.1, on servers and a Redis the soak starts.
 */
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { startGateway } from './lib/gateway-process.js'
import { fetchMetricsText, parseSamples } from './lib/gateway-metrics.js'
import { measureOpenLoop } from './lib/open-loop.js'
import { countOpenFiles, readRssMb } from './lib/process-usage.js'
import { startPrivateRedis } from './lib/redis-server.js'
import { describeMachine, writeResults } from './lib/results-file.js'
import { runBench } from './lib/run-guard.js'
import { formatNumber, formatTable } from './lib/text-table.js'
import { startUpstream } from './lib/upstream-process.js'
import { startWorker } from './lib/worker-process.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '300' }
  }
})
const minutes = Number(values.minutes)
const rate = Number(values.rate)
if (!(minutes >= 1 && minutes <= 60) || !(rate >= 10 && rate <= 5_000)) {
  process.stderr.write('soak: --minutes from 1 to 60, --rate from 10 to 5000\n')
  process.exit(2)
}

/** Memory may move this much after the warm-up without counting as growth (MB); arbitrary, about a fifth of the warm size. */
const rssBoundMb = 30
/**
 * Keep-alive pools open and close connections as latency varies, so the
 * descriptor count swings by dozens with no leak. A leak grows with the
 * requests served: the peak of the last minute may exceed the peak of the
 * first minute after the warm-up by this much at most.
 */
const descriptorBound = 10
/** Samples in a minute, the window whose peaks are compared. */
const windowSamples = 6
const sampleEveryMs = 10_000
const warmUpMs = 60_000

interface Sample {
  atSeconds: number
  rssMb: number
  openFiles: number
  pendingBytes: number
  queueDepth: number
}

async function soak (): Promise<void> {
  const redis = await startPrivateRedis()
  const baseline = await startUpstream()
  const candidate = await startUpstream({ withDifferences: true })
  const gateway = await startGateway({
    baselineUrl: baseline.url,
    candidateUrl: candidate.url,
    percentage: 10,
    redisUrl: redis.url,
    extraRoute: { mirror: { noiseSampleRate: 2, maxPerSecond: 100_000, maxInFlight: 256 } },
    extraConfig: { controller: { enabled: false } }
  })
  const worker = await startWorker({ redisUrl: redis.url, namespace: gateway.namespace, route: 'feed', concurrency: 2 })

  process.stderr.write(`soak: ${rate} req/s for ${minutes} min, every request mirrored and queued\n`)
  const samples: Sample[] = []
  const started = Date.now()
  const load = measureOpenLoop({ url: `${gateway.url}/feed`, ratePerSecond: rate, durationSeconds: minutes * 60, connections: 64 })
  while (Date.now() - started < minutes * 60_000) {
    await sleep(sampleEveryMs)
    samples.push(await sample(gateway.pid, gateway.adminUrl, (Date.now() - started) / 1_000))
    const last = samples.at(-1) as Sample
    process.stderr.write(`  ${Math.round(last.atSeconds)} s: RSS ${last.rssMb.toFixed(1)} MB, ${last.openFiles} descriptors, queue ${last.queueDepth}\n`)
  }
  const result = await load
  const metrics = parseSamples(await fetchMetricsText(gateway.adminUrl))
  const sum = (name: string): number => metrics.filter((entry) => entry.name === name).reduce((total, entry) => total + entry.value, 0)
  const pairs = { captured: sum('shadowramp_pairs_captured_total'), enqueued: sum('shadowramp_pairs_enqueued_total'), dropped: sum('shadowramp_pairs_dropped_total') }

  await worker.stop()
  await gateway.stop()
  await Promise.all([baseline.stop(), candidate.stop(), redis.stop()])

  await report(samples, result, pairs)
}

async function sample (pid: number, adminUrl: string, atSeconds: number): Promise<Sample> {
  const metrics = parseSamples(await fetchMetricsText(adminUrl))
  const gauge = (name: string): number => metrics.find((entry) => entry.name === name)?.value ?? 0

  return {
    atSeconds,
    rssMb: readRssMb(pid) ?? Number.NaN,
    openFiles: countOpenFiles(pid) ?? Number.NaN,
    pendingBytes: gauge('shadowramp_shadow_pending_bytes'),
    queueDepth: gauge('shadowramp_queue_depth')
  }
}

async function report (samples: Sample[], result: Awaited<ReturnType<typeof measureOpenLoop>>, pairs: { captured: number, enqueued: number, dropped: number }): Promise<void> {
  const warm = samples.filter((entry) => entry.atSeconds * 1_000 >= warmUpMs)
  const first = warm[0] ?? samples[0] as Sample
  const last = samples.at(-1) as Sample
  const rssGrowth = Math.max(...warm.map((entry) => entry.rssMb)) - first.rssMb
  const peakOpenFiles = (window: Sample[]): number => Math.max(...window.map((entry) => entry.openFiles))
  const descriptorGrowth = peakOpenFiles(warm.slice(-windowSamples)) - peakOpenFiles(warm.slice(0, windowSamples))
  const rssFlat = rssGrowth <= rssBoundMb
  const descriptorsFlat = descriptorGrowth <= descriptorBound

  const rows = [['time', 'RSS MB', 'descriptors', 'pending bytes', 'queue depth']]
  for (const entry of samples.filter((_entry, index) => index % 6 === 5 || index === 0)) {
    rows.push([`${Math.round(entry.atSeconds)} s`, entry.rssMb.toFixed(1), String(entry.openFiles), formatNumber(entry.pendingBytes), String(entry.queueDepth)])
  }
  process.stdout.write(`\nsoak: ${rate} req/s for ${minutes} min through the gateway, every request mirrored and queued, one diff worker\n\n`)
  process.stdout.write(`${formatTable(rows)}\n\n`)
  process.stdout.write(`live: ${formatNumber(result.completed)} answered of ${formatNumber(result.sent)} sent, ${result.non2xx} non-2xx, ${result.errors} errors, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, max ${result.maxMs.toFixed(1)} ms\n`)
  process.stdout.write(`pairs: ${formatNumber(pairs.captured)} captured, ${formatNumber(pairs.enqueued)} queued, ${formatNumber(pairs.dropped)} dropped\n`)
  process.stdout.write(`${rssFlat ? 'PASS' : 'FAIL'}  resident memory after the ${warmUpMs / 1_000} s warm-up: ${first.rssMb.toFixed(1)} → ${last.rssMb.toFixed(1)} MB, largest rise ${rssGrowth.toFixed(1)} MB (bound ${rssBoundMb} MB)\n`)
  process.stdout.write(`${descriptorsFlat ? 'PASS' : 'FAIL'}  open descriptors after the warm-up: ${first.openFiles} → ${last.openFiles}, peak of the last minute ${descriptorGrowth >= 0 ? '+' : ''}${descriptorGrowth} on the first minute's (bound +${descriptorBound})\n`)
  // Written before returning: the run ends the process as soon as the soak resolves.
  const file = await writeResults('soak', { machine: describeMachine(), minutes, rate, samples, live: result, pairs, rssGrowth, descriptorGrowth, rssFlat, descriptorsFlat })
  process.stdout.write(`raw figures: ${file}\n`)
  if (!rssFlat || !descriptorsFlat || result.errors + result.non2xx > 0) throw new Error('the soak failed: see the lines marked FAIL and the live errors above')
}

runBench(soak, (minutes * 60 + 120) * 1_000)
