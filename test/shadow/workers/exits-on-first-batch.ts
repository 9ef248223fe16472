/** A delta thread that loads, says so, and exits at its first batch. */
import { parentPort } from 'node:worker_threads'

parentPort?.on('message', () => process.exit(3))
parentPort?.postMessage({ kind: 'ready', writes: false })
