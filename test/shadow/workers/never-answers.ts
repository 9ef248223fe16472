/** A delta thread that loads, says so, and answers no batch. */
import { parentPort } from 'node:worker_threads'

parentPort?.on('message', () => {})
parentPort?.postMessage({ kind: 'ready', writes: false })
