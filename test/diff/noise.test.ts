import t from 'tap'
import { compareSchema } from '../../src/config/compare-schema.js'
import { comparePair } from '../../src/diff/compare.js'
import type { ResponseSample } from '../../src/diff/decode.js'
import {
  createNoiseModel, findNoiseCandidates, isNoise, recordNoiseSample, separateNoise, suggestIgnoreRules,
  type NoiseCandidate, type NoiseModel
} from '../../src/diff/noise.js'
import { compileRules } from '../../src/diff/rules.js'
import type { Verdict } from '../../src/diff/verdict.js'

const rules = compileRules(compareSchema.parse({ compareHeaders: ['x-request-id', 'cache-control'] }))

function answer (value: unknown, status = 200, headers: Record<string, string> = {}): ResponseSample {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(value)) }
}

/**
 * A baseline that stamps every answer with a fresh time and request id,
 * as real ones do; `call` stands for the n-th call.
 */
function baselineAnswer (call: number, price = 10): ResponseSample {
  const body = {
    generatedAt: `2024-11-01T08:00:0${call}Z`,
    requestId: `req-${call}`,
    items: [{ id: 1, price, meta: { timestamp: 1000 + call } }],
    cursor: { timestamp: 2000 + call }
  }

  return answer(body, 200, { 'x-request-id': `r${call}`, 'cache-control': 'no-store' })
}

/** The model after `samples` repeat samples of the baseline. */
function warmUp (samples: number): NoiseModel {
  let model = createNoiseModel()
  for (let call = 0; call < samples; call++) {
    const candidates = findNoiseCandidates(baselineAnswer(2 * call), baselineAnswer(2 * call + 1), rules)
    model = recordNoiseSample(model, candidates ?? [])
  }

  return model
}

function listed (verdict: Verdict, list: 'differences' | 'ignored' | 'noise'): string[] {
  const differences = 'differences' in verdict ? verdict[list] : []

  return differences.map((difference) => `${difference.kind} ${difference.path}`).sort()
}

t.test('two baseline answers show their noisy paths, collapsed, with the class of noise', async (t) => {
  const candidates = findNoiseCandidates(baselineAnswer(1), baselineAnswer(2), rules)
  const sorted = (candidates ?? []).map((candidate) => `${candidate.noiseClass} ${candidate.path}`).sort()

  t.same(sorted, [
    'value @headers.x-request-id',
    'value cursor.timestamp',
    'value generatedAt',
    'value items[*].meta.timestamp',
    'value requestId'
  ])
})

t.test('after warm-up, the fresh timestamp and request id are noise and a real change is still a divergence', async (t) => {
  const model = warmUp(3)
  const candidate = answer({
    generatedAt: '2024-11-01T08:00:09Z',
    requestId: 'req-9',
    items: [{ id: 1, price: 12, meta: { timestamp: 1009 } }],
    cursor: { timestamp: 2009 }
  }, 200, { 'x-request-id': 'r9', 'cache-control': 'no-store' })

  const verdict = separateNoise(comparePair(baselineAnswer(0), candidate, rules), model)
  t.equal(verdict.kind, 'diverging')
  t.same(listed(verdict, 'differences'), ['changed items[*].price'])
  t.same(listed(verdict, 'noise'), [
    'changed @headers.x-request-id', 'changed cursor.timestamp', 'changed generatedAt',
    'changed items[*].meta.timestamp', 'changed requestId'
  ])
})

t.test('a pair that differs only in noise is noise-only, not identical', async (t) => {
  const model = warmUp(4)
  const verdict = separateNoise(comparePair(baselineAnswer(0), baselineAnswer(7), rules), model)

  t.equal(verdict.kind, 'noise-only')
  t.same(listed(verdict, 'differences'), [])
  t.equal(listed(verdict, 'noise').length, 5)
})

t.test('before the minimum of samples nothing is noise', async (t) => {
  const model = warmUp(2)
  const verdict = separateNoise(comparePair(baselineAnswer(0), baselineAnswer(7), rules), model)

  t.equal(verdict.kind, 'diverging')
  t.same(listed(verdict, 'noise'), [])
  t.notOk(isNoise(model, 'requestId', 'value'))
  t.ok(isNoise(warmUp(3), 'requestId', 'value'))
})

t.test('a path is noise only when noisy in at least the chosen share of samples', async (t) => {
  let model = createNoiseModel()
  const noisy: NoiseCandidate[] = [{ path: 'rank', noiseClass: 'value' }]
  for (const candidates of [noisy, noisy, [], [], []]) model = recordNoiseSample(model, candidates)

  t.same(model.paths.rank, { value: 2, presence: 0 })
  t.notOk(isNoise(model, 'rank', 'value'), '2 of 5 is under the default half')
  t.ok(isNoise(model, 'rank', 'value', { minSamples: 3, minNoisyShare: 0.4, minParentsForWildcard: 2 }), '2 of 5 meets 40%')

  model = recordNoiseSample(model, noisy)
  t.ok(isNoise(model, 'rank', 'value'), '3 of 6 meets the default half')
})

t.test('a field whose value is noisy still diverges when the candidate drops it', async (t) => {
  const model = warmUp(3)
  const candidate = answer({ generatedAt: 'x', requestId: 'y', items: [{ id: 1, price: 10, meta: {} }], cursor: { timestamp: 1 } },
    200, { 'x-request-id': 'r9', 'cache-control': 'no-store' })
  const verdict = separateNoise(comparePair(baselineAnswer(0), candidate, rules), model)

  t.equal(verdict.kind, 'diverging')
  t.same(listed(verdict, 'differences'), ['only-in-baseline items[*].meta.timestamp'])
})

t.test('noise keeps a status mismatch a status mismatch, and leaves other verdicts alone', async (t) => {
  const model = warmUp(3)
  const mismatch = separateNoise(comparePair(baselineAnswer(0), { ...baselineAnswer(1), status: 500 }, rules), model)
  t.equal(mismatch.kind, 'status-mismatch')
  t.equal(listed(mismatch, 'differences').length, 0)
  t.equal(listed(mismatch, 'noise').length, 5)

  const identical: Verdict = { kind: 'identical' }
  t.equal(separateNoise(identical, model), identical)
})

t.test('answers that cannot form a sample are not counted', async (t) => {
  t.equal(findNoiseCandidates(baselineAnswer(1), { ...baselineAnswer(2), status: 503 }, rules), undefined)
  t.equal(findNoiseCandidates(baselineAnswer(1), { status: 0, headers: {}, failure: 'timeout' }, rules), undefined)
  t.same(findNoiseCandidates(baselineAnswer(1), baselineAnswer(1), rules), [], 'equal answers are a sample without noise')
})

t.test('the model is plain data and recording never changes the model given', async (t) => {
  const before = warmUp(3)
  const snapshot = JSON.parse(JSON.stringify(before)) as NoiseModel
  const after = recordNoiseSample(before, [{ path: 'requestId', noiseClass: 'value' }, { path: 'extra', noiseClass: 'presence' }])

  t.same(before, snapshot, 'the earlier model is untouched')
  t.same(JSON.parse(JSON.stringify(after)), after, 'it survives a JSON round trip')
  t.equal(after.samples, 4)
  t.same(after.paths.extra, { value: 0, presence: 1 })
})

t.test('suggested rules: a key noisy under several parents becomes **.key, others stay exact', async (t) => {
  const suggestions = suggestIgnoreRules(warmUp(3))

  t.same(suggestions, [
    { rule: 'ignorePaths', pattern: '**.timestamp', covers: ['cursor.timestamp', 'items[*].meta.timestamp'] },
    { rule: 'ignorePaths', pattern: 'generatedAt', covers: ['generatedAt'] },
    { rule: 'ignorePaths', pattern: 'requestId', covers: ['requestId'] },
    { rule: 'ignoreHeaders', pattern: 'x-request-id', covers: ['@headers.x-request-id'] }
  ])
  t.same(suggestIgnoreRules(warmUp(2)), [], 'nothing before the warm-up is over')
})

t.test('suggested rules quote keys that need it and keep whole-element noise exact', async (t) => {
  let model = createNoiseModel()
  const candidates: NoiseCandidate[] = [
    { path: 'a["@time"]', noiseClass: 'value' },
    { path: 'b["@time"]', noiseClass: 'value' },
    { path: 'feed[*]', noiseClass: 'presence' }
  ]
  for (let sample = 0; sample < 3; sample++) model = recordNoiseSample(model, candidates)

  t.same(suggestIgnoreRules(model).map((suggestion) => suggestion.pattern), ['**["@time"]', 'feed[*]'])
})
