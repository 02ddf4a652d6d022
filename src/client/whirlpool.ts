/**
 * Whirlpool of a file. Hashing runs at about 160 MB/s on one core; in the daemon's own thread a
 * large upload would stall every FUSE operation for seconds, so the daemon hashes in a worker
 * thread, reading the file a second time (from the page cache). Commands hash in their own
 * thread (whirlpoolOfFileStreamed).
 */
import { createReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { createWhirlpool } from 'hash-wasm'

const HASH_WASM = createRequire(import.meta.url).resolve('hash-wasm')

// An eval'd CommonJS worker: it works the same from the compiled code and under vitest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createReadStream } = require('node:fs')
const { createWhirlpool } = require(workerData.hashWasm)
;(async () => {
  const hasher = await createWhirlpool()
  for await (const chunk of createReadStream(workerData.path, { highWaterMark: 1 << 20 })) hasher.update(chunk)
  parentPort.postMessage({ digest: hasher.digest('hex') })
})().catch((error) => parentPort.postMessage({ error: String((error && error.message) || error) }))
`

export function whirlpoolOfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, hashWasm: HASH_WASM } })
    worker.once('message', (message: { digest?: string; error?: string }) => {
      if (message.digest) resolve(message.digest)
      else reject(new Error(`hashing ${path} failed: ${message.error ?? 'unknown error'}`))
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

/**
 * Whirlpool of a file in this thread, streamed in 1 MiB chunks, reporting the bytes hashed.
 * For the command line, where no FUSE request waits behind the hashing.
 */
export async function whirlpoolOfFileStreamed(path: string, onBytes?: (bytes: number) => void): Promise<string> {
  const hasher = await createWhirlpool()
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hasher.update(chunk)
    onBytes?.(chunk.length)
  }
  return hasher.digest('hex')
}
