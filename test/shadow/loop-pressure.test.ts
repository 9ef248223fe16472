import t from 'tap'
import { LoopPressure } from '../../src/shadow/loop-pressure.js'

/** Keeps this thread's event loop busy, as a saturated gateway's is. */
function spin (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy on purpose */ }
}

const nextWindow = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('a loop busy for a whole window is strained; once idle again, it is not', async (t) => {
  const pressure = new LoopPressure(0.9, 200)
  t.teardown(() => pressure.close())
  t.equal(pressure.strained, false, 'not strained before any window was judged')

  spin(450)
  await nextWindow(20)
  t.equal(pressure.strained, true, 'a window spent running is over 90% busy')

  await nextWindow(450)
  t.equal(pressure.strained, false, 'an idle window clears it')
})
