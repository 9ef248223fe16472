/**
 * The thread that finds the deltas of sealed batches (see
 * record-deltas.ts). It reads the gateway's arena, which is shared memory,
 * and answers each batch with the deltas in a buffer of its own, handed
 * over without a copy.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { findBatchDeltas, type DeltaRequest } from './record-deltas.js'

const arena = Buffer.from(workerData as SharedArrayBuffer)

parentPort?.on('message', (request: DeltaRequest) => {
  const answer = findBatchDeltas(arena, request)
  parentPort?.postMessage(answer, [answer.deltas.buffer as ArrayBuffer])
})
// Loaded: from now on a batch is answered within milliseconds.
parentPort?.postMessage('ready')
