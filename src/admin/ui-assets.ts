import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The web UI's folder, next to this module: src/admin/ui when run from
 * source, dist/admin/ui once built (the build copies it there, so what
 * runs is what was built, and dist needs nothing from src).
 */
export const uiFolder = fileURLToPath(new URL('./ui/', import.meta.url))

/** A file the UI serves, read once at start-up. */
export interface UiAsset {
  body: Buffer
  type: string
  etag: string
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/** The chart library's files, served from node_modules under vendor/, never from a CDN. */
const vendorFiles = ['uPlot.esm.js', 'uPlot.min.css']

/**
 * The page loads only what this listener serves and talks only to it: no
 * inline script, no other origin, no framing. The token lives in
 * sessionStorage, so a script injected from elsewhere is what would leak it.
 */
const securityHeaders = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache'
}

/**
 * Every file of the UI by the name it is served under: the folder's own
 * files (flat, known types only) and the vendored chart library. A fixed
 * table, so no request path ever reaches the file system.
 */
export function loadUiAssets (folder = uiFolder): Map<string, UiAsset> {
  const assets = new Map<string, UiAsset>()
  for (const name of readdirSync(folder)) {
    const type = contentTypes[extname(name)]
    if (type !== undefined) assets.set(name, toAsset(readFileSync(join(folder, name)), type))
  }
  const uplot = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')
  for (const name of vendorFiles) {
    assets.set(`vendor/${name}`, toAsset(readFileSync(join(uplot, name)), contentTypes[extname(name)] as string))
  }

  return assets
}

function toAsset (body: Buffer, type: string): UiAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`

  return { body, type, etag }
}

export interface UiRoutesOptions {
  folder?: string
}

/**
 * Serves the web UI at /ui without a token: the pages hold no data, which
 * comes from /api with the token the person enters. A build without the
 * UI's files still serves everything else; /ui then says what is missing.
 */
export async function uiRoutes (app: FastifyInstance, options: UiRoutesOptions): Promise<void> {
  const folder = options.folder ?? uiFolder
  const assets = existsSync(join(folder, 'index.html')) ? loadUiAssets(folder) : undefined
  if (assets === undefined) app.log.warn({ folder }, 'the web UI\'s files are missing; /ui answers 503 until `npm run build` copies them')

  const hide = { schema: { hide: true } }
  app.get('/ui', hide, async (_request, reply) => await reply.redirect('/ui/'))
  app.get('/ui/', hide, async (request, reply) => await sendAsset(request, reply, assets, 'index.html', folder))
  app.get<{ Params: { '*': string } }>('/ui/*', hide, async (request, reply) => {
    return await sendAsset(request, reply, assets, request.params['*'], folder)
  })
}

async function sendAsset (request: FastifyRequest, reply: FastifyReply, assets: Map<string, UiAsset> | undefined, name: string, folder: string): Promise<FastifyReply> {
  if (assets === undefined) {
    return await reply.code(503).type('text/plain; charset=utf-8').send(`the web UI's files are missing from ${folder}: run \`npm run build\`\n`)
  }

  const asset = assets.get(name)
  if (asset === undefined) return await reply.code(404).type('text/plain; charset=utf-8').send('no such file in the web UI\n')

  void reply.headers(securityHeaders).header('etag', asset.etag).type(asset.type)
  if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()

  return await reply.send(asset.body)
}
