import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import type { Config } from '../config/schema.js'
import { createRegistry } from '../telemetry/metrics.js'
import type { Logger } from '../telemetry/logger.js'
import { PairWorker } from '../worker/pair-worker.js'
import { listenOn, listeningUrl } from './serve.js'

export interface RunningWorker {
  metricsUrl: string
  close: () => Promise<void>
}

/**
 * `shadowramp worker`: a diff worker process with its own small listener
 * for /healthz and /metrics. Run as many as the queue needs.
 */
export async function startWorkerProcess (config: Readonly<Config>, redisUrl: string, logger: Logger): Promise<RunningWorker> {
  const registry = createRegistry()
  const worker = new PairWorker({ config, redisUrl, logger, registry })
  const app = Fastify({ loggerInstance: logger.child({ listener: 'worker' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/metrics', async (_request, reply) => await reply.type(registry.contentType).send(await registry.metrics()))

  worker.start()
  await listenOn(app, config.worker.listen)

  return {
    metricsUrl: listeningUrl(app),
    close: async () => {
      await worker.close()
      await app.close()
    }
  }
}
