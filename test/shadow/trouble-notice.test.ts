import t from 'tap'
import { calmMs, TroubleNotice } from '../../src/shadow/trouble-notice.js'

function noticeWithClock (): { notice: TroubleNotice, pass: (ms: number) => void } {
  let clock = 1_700_000_000_000
  const notice = new TroubleNotice(() => clock)

  return { notice, pass: (ms) => { clock += ms } }
}

t.test('a trouble is told once as it starts, however often it is seen', async (t) => {
  const { notice, pass } = noticeWithClock()

  t.equal(notice.absent(), false, 'nothing to tell before any trouble')
  t.equal(notice.present(), true, 'the start is told')
  pass(1_000)
  t.equal(notice.present(), false, 'and not again while it lasts')
})

t.test('a trouble that flickers is told over only once it has stayed away for the calm span', async (t) => {
  const { notice, pass } = noticeWithClock()
  notice.present()

  pass(1_000)
  t.equal(notice.absent(), false, 'gone for a moment: its end is not told yet')
  pass(5_000)
  t.equal(notice.present(), false, 'back within the calm span: not told again')
  pass(1_000)
  t.equal(notice.absent(), false, 'gone again: the calm span starts over')
  pass(calmMs - 1)
  t.equal(notice.absent(), false, 'not yet away for the whole span')
  pass(1)
  t.equal(notice.absent(), true, 'its end is told once it stayed away for the span')
  t.equal(notice.absent(), false, 'and told once')
})

t.test('a trouble that begins after its end was told is told as new', async (t) => {
  const { notice, pass } = noticeWithClock()
  notice.present()
  notice.absent()
  pass(calmMs)
  notice.absent()

  pass(1_000)
  t.equal(notice.present(), true)
})
