import t from 'tap'
import { generatorHeapWarning, generatorOldSpaceMb } from '../../bench/lib/node-flags.js'

t.test('a load generator started without a first old-generation budget is warned', async (t) => {
  const warning = generatorHeapWarning(['--import', 'tsx'])

  t.match(warning, `--initial-old-space-size=${generatorOldSpaceMb}`)
  t.match(warning, /garbage collections will show as slow answers/)
})

t.test('with the budget given, in any size, there is nothing to say', async (t) => {
  t.equal(generatorHeapWarning(['--initial-old-space-size=256', '--import', 'tsx']), undefined)
  t.equal(generatorHeapWarning(['--initial-old-space-size=512']), undefined)
})
