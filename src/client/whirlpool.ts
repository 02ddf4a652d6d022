/**
 * Whirlpool, the checksum 1fichier reports. Node's OpenSSL 3 has it in its legacy provider
 * only: with `--openssl-legacy-provider` (bin/fichfs.js's shebang, launcher.ts)
 * crypto.createHash('whirlpool') hashes natively, about twice as fast as hash-wasm and without
 * loading a WebAssembly module into the daemon; without the provider (another way of starting
 * Node, the tests' own process) hash-wasm computes the same digest.
 *
 * Hashing 1 GiB takes seconds of CPU: in the daemon's own thread it would stall every FUSE
 * operation, so the daemon hashes big files in a worker thread (whirlpoolOfFile). Commands hash
 * in their own thread (whirlpoolOfFileStreamed).
 */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

export interface WhirlpoolHasher {
  update(data: Uint8Array): void
  /** Lowercase hex, 128 characters. */
  digest(): string
}

let native: boolean | undefined

/** Whether OpenSSL's Whirlpool is available here (the legacy provider is loaded). */
export function nativeWhirlpool(): boolean {
  if (native === undefined) {
    try {
      createHash('whirlpool')
      native = true
    } catch {
      native = false
    }
  }
  return native
}

/** A Whirlpool hasher: OpenSSL's when available, else hash-wasm's (loaded on first use). */
export async function createWhirlpoolHasher(options: { preferWasm?: boolean } = {}): Promise<WhirlpoolHasher> {
  if (nativeWhirlpool() && !options.preferWasm) {
    const hash: Hash = createHash('whirlpool')
    return { update: (data) => void hash.update(data), digest: () => hash.digest('hex') }
  }
  const { createWhirlpool } = await import('hash-wasm')
  const hasher = await createWhirlpool()
  return { update: (data) => void hasher.update(data), digest: () => hasher.digest('hex') }
}

const HASH_WASM = createRequire(import.meta.url).resolve('hash-wasm')

// An eval'd CommonJS worker: it works the same from the compiled code and under vitest. A worker
// shares the process's OpenSSL, legacy provider included.
export const WORKER_HASHER_SOURCE = `
async function createHasher(hashWasm) {
  try {
    const hash = require('node:crypto').createHash('whirlpool')
    return { update: (data) => hash.update(data), digest: () => hash.digest('hex') }
  } catch {
    const hasher = await require(hashWasm).createWhirlpool()
    return { update: (data) => hasher.update(data), digest: () => hasher.digest('hex') }
  }
}
`

const WORKER_SOURCE = `${WORKER_HASHER_SOURCE}
const { parentPort, workerData } = require('node:worker_threads')
const { createReadStream } = require('node:fs')
;(async () => {
  const hasher = await createHasher(workerData.hashWasm)
  for await (const chunk of createReadStream(workerData.path, { highWaterMark: 1 << 20 })) hasher.update(chunk)
  parentPort.postMessage({ digest: hasher.digest() })
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
  const hasher = await createWhirlpoolHasher()
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hasher.update(chunk)
    onBytes?.(chunk.length)
  }
  return hasher.digest()
}
