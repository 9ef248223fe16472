import t from 'tap'
import { calmCycles, readStealMs } from '../../bench/lib/host-steal.js'

const stat = (cpuLine: string) => (): string => `${cpuLine}\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 12345\n`

t.test('steal is the eighth figure of the cpu line, in 10 ms ticks', async (t) => {
  t.equal(readStealMs(stat('cpu  159275 0 18226 281439 399 0 7321 882 0 0')), 8_820)
  t.equal(readStealMs(stat('cpu 1 2 3 4 5 6 7 0 0 0')), 0)
})

t.test('a system that does not report steal gives undefined, never a number made up', async (t) => {
  t.equal(readStealMs(() => { throw new Error('ENOENT: no such file') }), undefined, 'no /proc/stat')
  t.equal(readStealMs(stat('cpu 1 2 3 4 5 6 7')), undefined, 'an older kernel without the steal column')
  t.equal(readStealMs(stat('intr 1 2 3 4 5 6 7 8 9')), undefined, 'not a cpu line')
})

t.test('on this machine it reads a count that never goes down', async (t) => {
  const first = readStealMs()
  t.ok(first !== undefined && first >= 0, `read ${String(first)} ms`)
  const second = readStealMs()
  t.ok(second !== undefined && first !== undefined && second >= first)
})

t.test('a cycle is calm when the host took at most the limit from every slice of every target', async (t) => {
  const off = [0, 10, 0, 40, 0]
  const queue = [10, 0, 30, 0, 0]

  t.same(calmCycles([off, queue], 10), [0, 1, 4], 'cycle 2 lost 30 ms in one target, cycle 3 40 ms in the other')
  t.same(calmCycles([off, queue], 40), [0, 1, 2, 3, 4])
  t.same(calmCycles([off], 0), [0, 2, 4], 'only one target')
})

t.test('an unknown steal counts as calm, and the shortest target decides how many cycles there are', async (t) => {
  t.same(calmCycles([[Number.NaN, 50, 0], [0, 0]], 10), [0], 'cycle 1 left out, no cycle 2 in the second target')
})
