import { pino, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

/**
 * Header and field paths that never reach a log line. Fastify's request
 * serializer puts headers under req.headers and res.headers.
 */
export const redactedLogPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'token'
]

export interface LoggerSettings {
  level?: string
  /** Pretty, coloured lines for a person at a terminal; JSON otherwise. */
  pretty?: boolean
  destination?: NodeJS.WritableStream
}

export function createLogger (settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: redactedLogPaths, censor: '[redacted]' }
  }

  if (settings.destination !== undefined) {
    return pino(options, settings.destination)
  }
  if (settings.pretty ?? process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } })
  }

  return pino(options)
}
