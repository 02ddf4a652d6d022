/**
 * Whirlpool of a spool file computed while it is written: the upload needs the checksum of
 * every file it sends (to check end.pl's report), and hashing 1 GiB after the last write, or
 * beside the upload, puts seconds of CPU on the critical path of `dd conv=fsync` (issue 8).
 *
 * A SpoolHash follows the writes of one spool file. As long as they only add bytes never
 * written before (in any order: the kernel may hand writes over out of order), the prefix
 * written without holes grows, and a worker thread reads it back from the page cache and
 * hashes it, on the other core, while the writes go on. When the upload asks for the digest of
 * `size` bytes, only what the worker has not reached yet is left to hash. A write over bytes
 * already written, a truncate other than to zero, or a failed write make it give up: the
 * upload then hashes the file as before (whirlpoolOfFile). Kept in memory only: after a
 * restart, files are hashed as before.
 *
 * Small files (under WORKER_MIN_BYTES) start no worker: they are hashed inline by the upload,
 * cheaper than a thread. At most MAX_WORKERS run at once; files beyond that hash as before.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { WORKER_HASHER_SOURCE } from '../client/whirlpool.js'

/** Below this, no worker: the upload hashes the file inline. */
export const WORKER_MIN_BYTES = 8 << 20
/** The hashing thread's nice value (FICHFS_HASH_NICE overrides, for measurements). */
export const HASH_NICE = Number(process.env.FICHFS_HASH_NICE ?? 10)
/** Hashing workers at once (each holds a V8 isolate, a few MiB). */
export const MAX_WORKERS = 2

const HASH_WASM = createRequire(import.meta.url).resolve('hash-wasm')

const WORKER_SOURCE = `${WORKER_HASHER_SOURCE}
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const buffer = Buffer.allocUnsafe(1 << 20)
let fd, hasher, done = 0, target = 0, finish = -1, failed = false
function fail(error) {
  failed = true
  parentPort.postMessage({ error: String((error && error.message) || error) })
}
function pump() {
  if (failed || !hasher) return
  try {
    const limit = finish >= 0 ? finish : target
    while (done < Math.min(target, limit)) {
      const got = readSync(fd, buffer, 0, Math.min(buffer.length, Math.min(target, limit) - done), done)
      if (got === 0) throw new Error('the spool file is shorter than its writes')
      hasher.update(buffer.subarray(0, got))
      done += got
    }
    if (finish >= 0 && done === finish) {
      parentPort.postMessage({ digest: hasher.digest(), bytes: done })
      closeSync(fd)
      failed = true
    }
  } catch (error) { fail(error) }
}
parentPort.on('message', (message) => {
  if (message.upTo > target) target = message.upTo
  if (message.finish !== undefined) { finish = message.finish; if (finish > target) target = finish }
  pump()
})
;(async () => {
  // Below the FUSE threads: the hashing takes the CPU they leave, never their turn (the
  // writes' latency is what dd waits for). Linux: a thread id is a pid for setpriority.
  try {
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())
    if (tid > 0 && workerData.nice) require('node:os').setPriority(tid, workerData.nice)
  } catch {}
  fd = openSync(workerData.path, 'r')
  hasher = await createHasher(workerData.hashWasm)
  pump()
})().catch(fail)
`

let workers = 0

type Range = [start: number, end: number]

export class SpoolHash {
  /** Bytes [0, frontier) are written, without holes, and handed to the worker. */
  private frontier: number
  /** Written ranges beyond the frontier (sorted, disjoint), and writes under way. */
  private readonly ahead: Range[] = []
  private readonly inFlight = new Set<Range>()
  private broken = false
  private worker?: Worker
  private pending?: { size: number; promise: Promise<string>; resolve(digest: string): void; reject(error: Error): void }
  private result?: { size: number; digest: string }

  constructor(private readonly path: string, initialSize: number) {
    this.frontier = initialSize
    this.maybeStart()
  }

  /** A write of `length` bytes at `position` begins; returns the token for done(). */
  begin(position: number, length: number): Range | undefined {
    if (this.broken || length === 0) return undefined
    const range: Range = [position, position + length]
    const overlaps = (other: Range) => range[0] < other[1] && other[0] < range[1]
    if (range[0] < this.frontier || this.ahead.some(overlaps) || [...this.inFlight].some(overlaps)) {
      this.giveUp('a write over bytes already written')
      return undefined
    }
    this.result = undefined
    this.inFlight.add(range)
    return range
  }

  /** The write begun with `token` is done (or failed). */
  done(token: Range | undefined, ok: boolean): void {
    // A write begun before a give-up (and a start over) is no longer followed.
    if (!token || this.broken || !this.inFlight.delete(token)) return
    if (!ok) return this.giveUp('a write failed')
    let at = this.ahead.findIndex((range) => range[0] > token[0])
    if (at < 0) at = this.ahead.length
    this.ahead.splice(at, 0, token)
    const before = this.frontier
    while (this.ahead[0] && this.ahead[0][0] === this.frontier) this.frontier = (this.ahead.shift() as Range)[1]
    if (this.frontier === before) return
    if (this.worker) this.worker.postMessage({ upTo: this.frontier })
    else this.maybeStart()
  }

  /** The file was truncated: to zero starts over, anything else ends the incremental hash. */
  truncated(size: number): void {
    if (size === 0 && this.inFlight.size === 0 && !this.pending) {
      this.stopWorker()
      this.broken = false
      this.frontier = 0
      this.ahead.length = 0
      this.result = undefined
      return
    }
    if (!this.broken && (size !== this.frontier || this.ahead.length > 0 || this.inFlight.size > 0)) this.giveUp('a truncate')
  }

  /**
   * The Whirlpool of the file's first `size` bytes, when they are exactly what was written
   * (no holes, nothing overwritten); undefined when this hash cannot give it (the caller
   * hashes the file itself).
   */
  digest(size: number): Promise<string> | undefined {
    if (this.broken || size !== this.frontier || this.ahead.length > 0 || this.inFlight.size > 0) return undefined
    if (this.result?.size === size) return Promise.resolve(this.result.digest)
    if (this.pending?.size === size) return this.pending.promise
    if (this.pending || !this.worker) return undefined
    let resolve!: (digest: string) => void
    let reject!: (error: Error) => void
    const promise = new Promise<string>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => undefined)
    this.pending = { size, promise, resolve, reject }
    this.worker.postMessage({ finish: size })
    return promise
  }

  /** The spool file is gone (uploaded, deleted): free the worker. */
  close(): void {
    this.giveUp('closed')
  }

  private maybeStart(): void {
    if (this.worker || this.broken || this.frontier < WORKER_MIN_BYTES || workers >= MAX_WORKERS || process.env.FICHFS_SPOOL_HASH === '0') return
    workers++
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, hashWasm: HASH_WASM, nice: HASH_NICE } })
    this.worker = worker
    // A hashing thread never keeps the daemon alive.
    worker.unref()
    worker.on('message', (message: { digest?: string; bytes?: number; error?: string }) => {
      const pending = this.pending
      if (message.digest && pending && message.bytes === pending.size) {
        this.pending = undefined
        this.result = { size: pending.size, digest: message.digest }
        pending.resolve(message.digest)
        this.stopWorker()
      } else {
        this.giveUp(message.error ?? 'unexpected answer from the hashing thread')
      }
    })
    worker.on('error', (error) => this.giveUp(error.message))
    worker.postMessage({ upTo: this.frontier })
  }

  private stopWorker(): void {
    if (!this.worker) return
    const worker = this.worker
    this.worker = undefined
    workers--
    void worker.terminate()
  }

  private giveUp(reason: string): void {
    if (this.broken) return
    this.broken = true
    this.stopWorker()
    this.ahead.length = 0
    this.inFlight.clear()
    this.result = undefined
    const pending = this.pending
    this.pending = undefined
    pending?.reject(new Error(`incremental hash of ${this.path} abandoned: ${reason}`))
  }
}
