import t from 'tap'
import { readWhole } from '../../bench/lib/bench-options.js'

t.test('a whole number within bounds is read, a missing one falls back', async (t) => {
  t.equal(readWhole('--cycles', '30', 12, 2, 120), 30)
  t.equal(readWhole('--cycles', '2', 12, 2, 120), 2, 'the lower bound itself')
  t.equal(readWhole('--cycles', undefined, 12, 2, 120), 12)
})

t.test('anything but plain digits within bounds is refused with what was found', async (t) => {
  for (const text of ['0x10', '1e1', ' 5 ', '5.0', '-3', '', 'abc', '121', '1']) {
    t.throws(() => readWhole('--cycles', text, 12, 2, 120), { message: `--cycles expects a whole number from 2 to 120, found ${text}` }, JSON.stringify(text))
  }
})
