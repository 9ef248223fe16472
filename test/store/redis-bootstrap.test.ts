import t from 'tap'
import { Redis } from 'ioredis'
import { answersPing, resolveRedis, startPrivateRedis } from '../../src/store/redis-bootstrap.js'
import { closedPort } from '../helpers/http.js'
import { memoryLogger } from '../helpers/gateway.js'
import { testRedisUrl } from '../helpers/redis.js'

t.test('a configured URL is used as it is, without probing', async (t) => {
  const { logger } = memoryLogger()
  const resolved = await resolveRedis('redis://10.9.8.7:6390', logger)
  t.same(resolved, { url: 'redis://10.9.8.7:6390', privateServer: undefined })
})

t.test('the default address is used when a Redis answers there', async (t) => {
  const url = await testRedisUrl()
  const { logger, lines } = memoryLogger()
  const resolved = await resolveRedis(undefined, logger, url)
  t.equal(resolved.url, url)
  t.equal(resolved.privateServer, undefined)
  t.equal(lines().length, 0)
})

t.test('when nothing answers, a private redis-server starts on a free loopback port, said in one line', async (t) => {
  const silent = `redis://127.0.0.1:${await closedPort()}`
  const { logger, lines } = memoryLogger()
  const resolved = await resolveRedis(undefined, logger, silent)
  t.teardown(() => { resolved.privateServer?.kill('SIGKILL') })

  t.not(resolved.url, silent)
  t.match(resolved.url, /^redis:\/\/127\.0\.0\.1:\d+$/)
  const port = Number(new URL(resolved.url).port)
  t.ok(await answersPing('127.0.0.1', port))
  const redis = new Redis(resolved.url)
  const persistence = await redis.config('GET', 'save') as string[]
  const appendOnly = await redis.config('GET', 'appendonly') as string[]
  redis.disconnect()
  t.same([persistence[1], appendOnly[1]], ['', 'no'], 'persistence is off')
  t.equal(lines().length, 1)
  t.match(lines()[0]?.msg, /nothing answers at redis:\/\/127\.0\.0\.1:\d+: started a private redis-server at redis:\/\/127\.0\.0\.1:\d+ with persistence off/)
})

t.test('without redis-server on PATH it stops with one line that says how to get one', async (t) => {
  const silent = `redis://127.0.0.1:${await closedPort()}`
  const { logger } = memoryLogger()
  const path = process.env.PATH
  process.env.PATH = '/nonexistent'
  t.teardown(() => { process.env.PATH = path })

  await t.rejects(resolveRedis(undefined, logger, silent), {
    code: 'SR_ERR_REDIS_UNAVAILABLE',
    message: /redis-server is not on PATH: install it \(apt-get install redis-server\) or start the compose service \(docker compose up -d redis\)/
  })
})

t.test('a private redis-server whose port another server holds is not taken for ready', async (t) => {
  const first = await startPrivateRedis()
  t.teardown(() => { first.server.kill('SIGKILL') })

  // Another Redis answers on that port: what answers there is not the new child.
  await t.rejects(startPrivateRedis(first.port), {
    code: 'SR_ERR_REDIS_UNAVAILABLE',
    message: new RegExp(`the private redis-server on port ${first.port} exited, its port likely taken by another process`)
  })
  const second = await startPrivateRedis()
  t.teardown(() => { second.server.kill('SIGKILL') })
  t.not(second.port, first.port, 'a picked port is a free one')
  t.equal(second.server.exitCode, null, 'and the server on it is the child that was started')
})
