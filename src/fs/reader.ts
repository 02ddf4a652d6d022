/**
 * Reads of remote files: ranged HTTP GETs on a download link, in blocks, with read-ahead.
 *
 * - Bytes come from the client's readRange, which shares one download link per file while
 *   it is valid (a seek costs no API call) and resumes a body that breaks in the middle.
 * - Blocks: reads are served from the BlockCache in `blockSize` blocks; missing blocks are
 *   fetched as spans (one GET per run of consecutive missing blocks) and blocks already in
 *   flight are awaited, not fetched twice.
 * - Read-ahead: a handle reading sequentially gets a window of blocks fetched ahead of it,
 *   starting at 1 block and doubling up to `maxWindowBlocks`; a random read fetches only what
 *   it needs. All read-ahead shares one byte budget, so many open files cannot exhaust memory.
 */
import { BlockCache, type Block, type BlockSource } from '../cache/block-cache.js'
import { FichierApiError } from '../client/errors.js'
import { fsError } from './errors.js'

/** What the reader needs from the client. */
export interface DownloadSource {
  readRange(fileUrl: string, start: number, end: number, options?: { signal?: AbortSignal; password?: string }): AsyncIterable<Buffer>
  forgetLink(fileUrl: string): void
}

export interface RemoteFileRef {
  url: string
  id: string
  size: number
  password?: string
}

export interface ReaderOptions {
  blockSize: number
  maxWindowBlocks: number
  /** Bytes of read-ahead allowed in flight across all files. */
  prefetchBudgetBytes: number
  /** Read-ahead is fetched in parts of this many blocks, in parallel. */
  partBlocks: number
  /** Blocks at each end of a file that go to the disk tier (what players and thumbnailers probe). */
  edgeBlocks: number
}

export const DEFAULT_READER_OPTIONS: ReaderOptions = {
  blockSize: 1 << 20,
  maxWindowBlocks: 32,
  prefetchBudgetBytes: 96 << 20,
  partBlocks: 4,
  edgeBlocks: 2,
}

/** Per-handle sequential-read state. */
export interface ReadStream {
  /** Where the last read ended. */
  nextOffset: number
  windowBlocks: number
  /** The last block this handle's reads were counted for (the kernel reads 128 KiB at a time). */
  countedBlock?: number
}

export interface ReaderStats {
  spans: number
  bytesFetched: number
  readAheadBytes: number
}

interface Deferred {
  promise: Promise<Block>
  resolve(block: Block): void
  reject(error: unknown): void
}

function deferred(): Deferred {
  let resolve!: (block: Block) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<Block>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

export class RemoteReader {
  private readonly options: ReaderOptions
  private readonly inflight = new Map<string, Deferred>()
  private readonly controllers = new Set<AbortController>()
  /** Read-ahead blocks fetched (or being fetched) that no read has taken yet, oldest first. */
  private readonly unread = new Map<string, { bytes: number; at: number }>()
  private unreadBytes = 0
  private readonly counters = { spans: 0, bytesFetched: 0 }
  private closed = false

  constructor(
    private readonly source: DownloadSource,
    private readonly cache: BlockCache,
    options: Partial<ReaderOptions> = {},
  ) {
    this.options = { ...DEFAULT_READER_OPTIONS, ...options, blockSize: cache.blockSize }
  }

  newStream(): ReadStream {
    return { nextOffset: 0, windowBlocks: 1 }
  }

  stats(): ReaderStats {
    return { ...this.counters, readAheadBytes: this.unreadBytes }
  }

  /**
   * Read up to `length` bytes at `offset`, as a list of slices of the cached chunks (no copy:
   * the caller copies them once, into the kernel's buffer). Fewer bytes mean end of file.
   */
  async read(file: RemoteFileRef, stream: ReadStream, offset: number, length: number): Promise<Buffer[]> {
    if (offset >= file.size || length <= 0) return []
    const end = Math.min(file.size, offset + length)
    const size = this.options.blockSize
    const first = Math.floor(offset / size)
    const last = Math.floor((end - 1) / size)
    // The kernel's read-ahead sends requests slightly out of order: within a block of where the
    // last read ended, forwards or backwards, is still sequential.
    const sequential = offset >= stream.nextOffset - size && offset <= stream.nextOffset + size
    if (!sequential) stream.windowBlocks = 1
    stream.nextOffset = sequential ? Math.max(stream.nextOffset, end) : end

    // Each block a handle reads counts once in the cache statistics, not once per request.
    const countFrom = stream.countedBlock === first ? first + 1 : first
    stream.countedBlock = last
    const blocks = this.blocks(file, first, last, { persist: !sequential, countFrom })
    if (sequential) this.readAhead(file, stream, last)
    const parts = await Promise.all(blocks)
    for (let index = first; index <= last; index++) this.consumed(BlockCache.key(file.id, index))
    const out: Buffer[] = []
    let position = first * size
    for (const block of parts) {
      for (const chunk of block) {
        const chunkEnd = position + chunk.length
        if (chunkEnd > offset && position < end) out.push(chunk.subarray(Math.max(0, offset - position), Math.min(chunk.length, end - position)))
        position = chunkEnd
      }
    }
    return out
  }

  /**
   * A file just uploaded from local bytes: put on disk the blocks a first read would keep there
   * (its first and last `edgeBlocks`), read from `readAt`, so that a file manager's or a
   * player's first look at the file costs no API call and no download. The price is a copy of
   * up to 2 x edgeBlocks blocks per uploaded file on the disk tier, within its LRU bound (rclone's
   * full VFS cache keeps whole written files the same way).
   */
  async adoptUploaded(fileId: string, size: number, readAt: (offset: number, length: number) => Promise<Buffer>): Promise<void> {
    const blockSize = this.options.blockSize
    const lastBlock = Math.floor((size - 1) / blockSize)
    const edges = new Set<number>()
    for (let n = 0; n < this.options.edgeBlocks; n++) {
      if (n <= lastBlock) edges.add(n)
      if (lastBlock - n >= 0) edges.add(lastBlock - n)
    }
    const blocks: Array<[number, Buffer]> = []
    for (const index of [...edges].sort((a, b) => a - b)) {
      const offset = index * blockSize
      const length = Math.min(blockSize, size - offset)
      const block = await readAt(offset, length)
      // A short read: the local copy is not what was uploaded; keep nothing of it.
      if (block.length !== length) return
      blocks.push([index, block])
    }
    for (const [index, block] of blocks) this.cache.persist(fileId, index, [block])
  }

  /** Forget a file's download link (it was deleted or replaced). */
  forget(fileUrl: string): void {
    this.source.forgetLink(fileUrl)
  }

  close(): void {
    this.closed = true
    for (const controller of this.controllers) controller.abort()
  }

  // -------------------------------------------------------------------------------------------

  /** Promises for blocks first..last: cached, in flight, or fetched now as spans. */
  private blocks(file: RemoteFileRef, first: number, last: number, how: { persist: boolean; countFrom: number }): Array<Promise<Block>> {
    const out: Array<Promise<Block>> = []
    const count = (index: number, source: BlockSource) => {
      if (index >= how.countFrom) this.cache.count(source)
    }
    let spanStart = -1
    const flush = (endIndex: number) => {
      if (spanStart >= 0) this.fetchSpan(file, spanStart, endIndex, { persist: how.persist, prefetch: false })
      spanStart = -1
    }
    for (let index = first; index <= last; index++) {
      const key = BlockCache.key(file.id, index)
      const cached = this.cache.peek(file.id, index)
      if (cached) {
        flush(index - 1)
        count(index, this.unread.has(key) ? 'readAhead' : 'memory')
        out.push(Promise.resolve(cached))
        continue
      }
      const pending = this.inflight.get(key)
      if (pending) {
        flush(index - 1)
        count(index, this.unread.has(key) ? 'readAhead' : 'fetched')
        out.push(pending.promise)
        continue
      }
      if (this.cache.has(file.id, index)) {
        // On disk: read it back (falls back to a fetch if the disk copy vanished).
        flush(index - 1)
        out.push(this.cache.get(file.id, index).then((block) => block ?? this.fetchOne(file, index)))
        continue
      }
      if (spanStart < 0) spanStart = index
      count(index, 'fetched')
      // Register the deferred now so the span below and later readers share it.
      out.push(this.register(file.id, index).promise)
    }
    flush(last)
    return out
  }

  private fetchOne(file: RemoteFileRef, index: number): Promise<Block> {
    const pending = this.inflight.get(BlockCache.key(file.id, index)) ?? this.register(file.id, index)
    this.fetchSpan(file, index, index, { persist: true, prefetch: false })
    return pending.promise
  }

  private register(fileId: string, index: number): Deferred {
    const key = BlockCache.key(fileId, index)
    const existing = this.inflight.get(key)
    if (existing) return existing
    const entry = deferred()
    this.inflight.set(key, entry)
    return entry
  }

  /** Keep `windowBlocks` blocks fetched ahead of a sequential reader, topping up by half-windows. */
  private readAhead(file: RemoteFileRef, stream: ReadStream, lastRead: number): void {
    const lastBlock = Math.floor((file.size - 1) / this.options.blockSize)
    let ahead = lastRead + 1
    while (ahead <= lastBlock && ahead <= lastRead + stream.windowBlocks &&
      (this.cache.has(file.id, ahead) || this.inflight.has(BlockCache.key(file.id, ahead)))) ahead++
    const have = ahead - lastRead - 1
    // Fetch in parts of up to `partBlocks`, several in flight at once: over a link with real
    // latency, one long request at a time leaves the pipe idle between requests.
    const partBlocks = Math.max(1, Math.min(this.options.partBlocks, Math.floor(stream.windowBlocks / 2)))
    if (ahead > lastBlock || stream.windowBlocks - have < partBlocks) return
    const budget = this.options.prefetchBudgetBytes - this.budgetUsed()
    const affordable = Math.floor(budget / this.options.blockSize)
    const want = Math.min(stream.windowBlocks - have, affordable, lastBlock - ahead + 1)
    if (want <= 0) return
    for (let index = ahead; index < ahead + want; index++) this.register(file.id, index)
    for (let first = ahead; first < ahead + want; first += partBlocks) {
      this.fetchSpan(file, first, Math.min(ahead + want, first + partBlocks) - 1, { persist: false, prefetch: true })
    }
    stream.windowBlocks = Math.min(this.options.maxWindowBlocks, stream.windowBlocks * 2)
  }

  /**
   * Fetch blocks first..last with one ranged GET, resuming where a body breaks. Deferreds for
   * those blocks must already be registered; each resolves as soon as its block is complete.
   */
  private fetchSpan(file: RemoteFileRef, first: number, last: number, how: { persist: boolean; prefetch: boolean }): void {
    const size = this.options.blockSize
    const spanStart = first * size
    const spanEnd = Math.min(file.size, (last + 1) * size) // exclusive
    if (how.prefetch) {
      // Read-ahead counts against the budget until it is read (or given up on).
      for (let index = first; index <= last; index++) {
        const bytes = Math.min(size, file.size - index * size)
        this.unread.set(BlockCache.key(file.id, index), { bytes, at: Date.now() })
        this.unreadBytes += bytes
      }
    }
    this.counters.spans++
    const lastBlock = Math.floor((file.size - 1) / size)
    const persistBlock = (index: number) =>
      how.persist || index < this.options.edgeBlocks || index > lastBlock - this.options.edgeBlocks

    const run = async () => {
      if (this.closed) throw fsError('EIO', 'filesystem is shutting down')
      const controller = new AbortController()
      this.controllers.add(controller)
      let offset = spanStart
      let index = first
      let blockEnd = Math.min(file.size, (index + 1) * size)
      let block: Block = []
      try {
        for await (const chunk of this.source.readRange(file.url, spanStart, spanEnd - 1, { signal: controller.signal, password: file.password })) {
          let at = 0
          while (at < chunk.length && offset < spanEnd) {
            // Keep slices of the chunks as they are; a chunk across a block boundary is split.
            const take = Math.min(chunk.length - at, blockEnd - offset)
            block.push(take === chunk.length ? chunk : chunk.subarray(at, at + take))
            at += take
            offset += take
            this.counters.bytesFetched += take
            if (offset === blockEnd) {
              this.complete(file.id, index, block, persistBlock(index))
              index++
              block = []
              blockEnd = Math.min(file.size, (index + 1) * size)
            }
          }
        }
      } finally {
        this.controllers.delete(controller)
      }
      if (offset < spanEnd) throw fsError('EIO', `download of ${file.id} ended at byte ${offset} of ${spanEnd}`)
    }

    run()
      .catch((error: unknown) => {
        const failure = error instanceof FichierApiError || (error as { errno?: string } | undefined)?.errno
          ? error
          : fsError('EIO', `download of ${file.id} failed: ${(error as Error).message}`, error)
        for (let index = first; index <= last; index++) {
          const key = BlockCache.key(file.id, index)
          this.consumed(key)
          const entry = this.inflight.get(key)
          if (entry) {
            this.inflight.delete(key)
            entry.reject(failure)
          }
        }
      })
  }

  private consumed(key: string): void {
    const entry = this.unread.get(key)
    if (!entry) return
    this.unread.delete(key)
    this.unreadBytes -= entry.bytes
  }

  /** Bytes of read-ahead not read yet; read-ahead nobody came for in 30 s stops counting. */
  private budgetUsed(): number {
    const stale = Date.now() - 30_000
    for (const [key, entry] of this.unread) {
      if (entry.at >= stale) break
      this.consumed(key)
    }
    return this.unreadBytes
  }

  private complete(fileId: string, index: number, block: Block, persist: boolean): void {
    this.cache.set(fileId, index, block, persist)
    const key = BlockCache.key(fileId, index)
    const entry = this.inflight.get(key)
    this.inflight.delete(key)
    entry?.resolve(block)
  }
}
