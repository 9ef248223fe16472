/**
 * Starts json-server 1.0.0-beta.3, the demo's candidate, on 127.0.0.1.
 *
 * Its own CLI drops the host it is given and listens on every interface,
 * so this launcher builds the same app with the same storage (its lowdb 7
 * JSON file adapter) and binds it to loopback itself.
 *
 * usage: node candidate-server.js <port> <db.json>
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [portText, file] = process.argv.slice(2)
if (portText === undefined || file === undefined) {
  process.stderr.write('usage: candidate-server <port> <db.json>\n')
  process.exit(2)
}

const packageDir = dirname(createRequire(import.meta.url).resolve('json-server-candidate/package.json'))
const load = async (relative: string): Promise<any> => await import(pathToFileURL(join(packageDir, relative)).href)

const { createApp } = await load('lib/app.js')
const { Low } = await load('node_modules/lowdb/lib/index.js')
const { JSONFile } = await load('node_modules/lowdb/lib/node.js')

const db = new Low(new JSONFile(file), {})
await db.read()
const app = createApp(db, { logger: false, static: [] })
app.listen(Number(portText), () => {
  process.stdout.write(`json-server 1.0.0-beta.3 listening on 127.0.0.1:${portText}\n`)
}, '127.0.0.1')
