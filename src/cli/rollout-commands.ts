import { parseArgs } from 'node:util'
import type { RouteView } from '../admin/route-view.js'
import { AdminClient, defaultAdminUrl } from './admin-client.js'
import { formatHistory, formatRouteLine, formatRouteStatus, type HistoryLine } from './format-status.js'

/*
 * The operator verbs: thin clients of the admin API, so a person at a
 * terminal, a script and the API see one set of rules, checks and history.
 */

export type Write = (text: string) => void

export interface CommandIo {
  out: Write
  err: Write
  env: NodeJS.ProcessEnv
  now: () => number
}

const defaultIo: CommandIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  now: Date.now
}

const adminOption = { admin: { type: 'string' } } as const

/**
 * Runs one verb: status, history, or an action (set, pause, resume,
 * promote, rollback, retry), each posting to the API path of its name.
 * Resolves to the exit code; throws coded errors for main to print.
 */
export async function runRolloutCommand (command: string, args: string[], io: CommandIo = defaultIo): Promise<number> {
  try {
    if (command === 'status') return await statusCommand(args, io)
    if (command === 'history') return await historyCommand(args, io)

    return await actionCommand(command, args, io)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code?.startsWith('ERR_PARSE_ARGS') === true) return usageError(io, (error as Error).message)
    throw error
  }
}

async function statusCommand (args: string[], io: CommandIo): Promise<number> {
  const options = { ...adminOption, json: { type: 'boolean', default: false } } as const
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options })
  const route = positionals[0]
  if (positionals.length > 1) return extraArguments(io, 'status [route] [--json]', positionals.slice(1))
  const url = resolveAdminUrl(values.admin, io)
  if (url === undefined) return usageError(io, adminUrlProblem)

  const path = route === undefined ? '/api/routes' : `/api/routes/${encodeURIComponent(route)}`
  const answer = await withClient(url, io, async (client) => await client.get<RouteView[] | RouteView>(path))
  if (values.json) { io.out(JSON.stringify(answer, null, 2)); return 0 }

  const routes = Array.isArray(answer) ? answer : [answer]
  io.out(routes.map((view) => formatRouteStatus(view, io.now())).join('\n\n'))
  return 0
}

async function historyCommand (args: string[], io: CommandIo): Promise<number> {
  const options = { ...adminOption, json: { type: 'boolean', default: false }, limit: { type: 'string', default: '50' } } as const
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options })
  const route = positionals[0]
  if (route === undefined) return usageError(io, 'usage: shadowramp history <route> [--limit N] [--json]')
  if (positionals.length > 1) return extraArguments(io, 'history <route> [--limit N] [--json]', positionals.slice(1))
  if (!isHistoryLimit(values.limit)) return usageError(io, `--limit wants a number of entries from 1 to 1000, got ${values.limit}`)
  const url = resolveAdminUrl(values.admin, io)
  if (url === undefined) return usageError(io, adminUrlProblem)

  const path = `/api/routes/${encodeURIComponent(route)}/history?limit=${values.limit}`
  const entries = await withClient(url, io, async (client) => await client.get<HistoryLine[]>(path))
  io.out(values.json ? JSON.stringify(entries, null, 2) : formatHistory(entries))
  return 0
}

async function actionCommand (command: string, args: string[], io: CommandIo): Promise<number> {
  // Node's parser takes "-5" for an option it does not know; it is a percentage out of range.
  const negative = command === 'set' ? args.find((arg) => /^-\d/.test(arg)) : undefined
  if (negative !== undefined) return usageError(io, `a percentage from 0 to 100 is needed, got ${negative}`)

  const options = { ...adminOption, reason: { type: 'string' } } as const
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options })
  const [route, percentageText] = positionals
  const shape = command === 'set' ? 'set <route> <percentage> [--reason text]' : `${command} <route> [--reason text]`
  const incomplete = route === undefined || (command === 'set' && percentageText === undefined)
  if (incomplete) return usageError(io, `usage: shadowramp ${shape}`)
  const takes = command === 'set' ? 2 : 1
  if (positionals.length > takes) return extraArguments(io, shape, positionals.slice(takes))
  if (values.reason?.trim() === '') return usageError(io, '--reason wants some text; leave it out to record "no reason given"')

  const body: { percentage?: number, reason?: string } = { reason: values.reason }
  if (command === 'set') {
    const percentage = readPercentage(percentageText)
    if (percentage === undefined) return usageError(io, `a percentage from 0 to 100 is needed, got ${percentageText}`)
    body.percentage = percentage
  }

  const url = resolveAdminUrl(values.admin, io)
  if (url === undefined) return usageError(io, adminUrlProblem)

  const path = `/api/routes/${encodeURIComponent(route)}/${command}`
  const view = await withClient(url, io, async (client) => await client.post<RouteView>(path, body))
  io.out(formatRouteLine(view))
  return 0
}

/*
 * The ranges the API checks are checked here too: its refusal names a
 * schema path ("body/percentage must be <= 100"), not what to type. The
 * API's finer rule (hundredths of a percent) it says in plain words.
 */

function readPercentage (text: string | undefined): number | undefined {
  const percentage = Number(text)
  const readable = text?.trim() !== '' && Number.isFinite(percentage)

  return readable && percentage >= 0 && percentage <= 100 ? percentage : undefined
}

function isHistoryLimit (text: string): boolean {
  const limit = Number(text)

  return /^\d{1,4}$/.test(text) && limit >= 1 && limit <= 1_000
}

const adminUrlProblem = '--admin (or SHADOWRAMP_ADMIN_URL) wants the admin listener\'s http:// or https:// URL'

/** --admin, else SHADOWRAMP_ADMIN_URL, else the default listener; undefined when it is no http(s) URL. */
function resolveAdminUrl (admin: string | undefined, io: CommandIo): string | undefined {
  const url = admin ?? (io.env.SHADOWRAMP_ADMIN_URL === '' ? undefined : io.env.SHADOWRAMP_ADMIN_URL) ?? defaultAdminUrl
  if (!URL.canParse(url)) return undefined

  const { protocol } = new URL(url)
  return protocol === 'http:' || protocol === 'https:' ? url : undefined
}

async function withClient<T> (url: string, io: CommandIo, use: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = new AdminClient({ url, token: io.env.SHADOWRAMP_TOKEN })
  try {
    return await use(client)
  } finally {
    await client.close()
  }
}

/** Arguments past those a command takes are a mistake (one route at a time), not something to pass over. */
function extraArguments (io: CommandIo, shape: string, extra: string[]): number {
  return usageError(io, `usage: shadowramp ${shape}; not taken: ${extra.join(' ')}`)
}

function usageError (io: CommandIo, message: string): number {
  io.err(`shadowramp: ${message}`)

  return 2
}
