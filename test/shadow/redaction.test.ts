import t from 'tap'
import { createRedactor } from '../../src/shadow/redaction.js'

const redactor = createRedactor({ captureHeaders: [], redactHeaders: [], redactFields: ['sessionId'], stickyHeader: undefined })

t.test('a query keeps every parameter byte for byte but the values of credentials', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['', '', 'no query'],
    ['page=2&sort=-price', 'page=2&sort=-price', 'nothing sensitive'],
    ['page=2&access_token=abc123&q=a%20b', 'page=2&access_token=[redacted]&q=a%20b', 'a well-known credential'],
    ['Token=abc&API_KEY=def', 'Token=[redacted]&API_KEY=[redacted]', 'in any case'],
    ['acc%65ss_token=abc', 'acc%65ss_token=[redacted]', 'a name percent-encoded'],
    ['sessionid=abc&sessionId=def', 'sessionid=[redacted]&sessionId=[redacted]', 'a configured field'],
    ['token&page=1', 'token=[redacted]&page=1', 'a name without a value'],
    ['token=a=b&x=%E0%A4%A', 'token=[redacted]&x=%E0%A4%A', 'a value with "=", and a broken escape left as it is'],
    ['%E0%A4%A=1&password=p', '%E0%A4%A=1&password=[redacted]', 'a name that cannot be decoded is compared as it is']
  ]
  for (const [query, expected, name] of cases) t.equal(redactor.query(query), expected, name)
})
