/**
 * Reads of remote files: HTTP GETs on a download link, in blocks, with read-ahead on lanes.
 *
 * - Bytes come from the client's readRange, which shares one download link per file while
 *   it is valid (a seek costs no API call) and resumes a body that breaks in the middle.
 * - Blocks: reads are served from the BlockCache in `blockSize` blocks; blocks already in
 *   flight are awaited, never fetched twice.
 * - A sequential reader gets lanes: a lane is one GET over a run of blocks, consumed with
 *   backpressure (it stops pulling the body when it is `windowBlocks` ahead of the reader, or
 *   when all read-ahead not read yet reaches the byte budget, so TCP holds the rest). A lane's
 *   span is 2 windows (growing with the window, then 2 full windows), and no byte is fetched
 *   twice. Once a stream reads at its full window, its next lane sends its GET a window early
 *   and waits on the first chunk: the request's latency passes while the reader reads the
 *   window before it, instead of stalling the reader at every span.
 * - Starved (a lane delivers under `starvedBytesPerSec`, e.g. a service that caps each
 *   connection): the stream stripes what follows into spans of `stripeBlocks`, each on its own
 *   lane, up to `maxLanesPerStream` at once within the window.
 * - Every GET (lanes and the fetches of random reads) takes one of `maxConnections` slots,
 *   shared by all files: a user opening many files cannot open more connections than that.
 * - A random read fetches only the blocks it needs (one GET per run of missing blocks).
 */
import { BlockCache, type Block, type BlockSource } from '../cache/block-cache.js'
import type { BlockPool, BlockPoolStats } from '../cache/block-pool.js'
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
  /** How far (in blocks) lanes may run ahead of a sequential reader. */
  maxWindowBlocks: number
  /** Bytes of read-ahead allowed not read yet, across all files. */
  prefetchBudgetBytes: number
  /** Span of one lane once a stream is striped (starved). */
  stripeBlocks: number
  /** Lanes of one stream at once when striped. */
  maxLanesPerStream: number
  /** GETs in flight at once across all files (lanes and random reads). */
  maxConnections: number
  /** A lane delivering less than this (measured while it is not held back) starves its stream. */
  starvedBytesPerSec: number
  /** A lane held back this long (its reader went away) is closed, giving its slot back. */
  idleLaneMs: number
  /** Blocks at each end of a file that go to the disk tier (what players and thumbnailers probe). */
  edgeBlocks: number
  /**
   * A young-generation collection every `everyBytes` downloaded (the mount passes V8's; none in
   * tests): the socket chunks a body arrives in are garbage once copied into their block, and
   * V8 would otherwise let tens of MiB of them pile up between its own collections.
   */
  youngCollection?: { everyBytes: number; collect: () => void }
}

export const DEFAULT_READER_OPTIONS: ReaderOptions = {
  blockSize: 1 << 20,
  maxWindowBlocks: 32,
  prefetchBudgetBytes: 96 << 20,
  stripeBlocks: 4,
  maxLanesPerStream: 8,
  maxConnections: 12,
  starvedBytesPerSec: 64e6,
  idleLaneMs: 10_000,
  edgeBlocks: 2,
}

/** The block cache and reader a mount reads with (mount-service.ts; also scripts/bench/reader-path.ts). */
export function blockCacheFor(memoryCacheBytes: number, diskDir?: string, diskCacheBytes = 0): BlockCache {
  return new BlockCache({
    blockSize: 1 << 20,
    // The read-ahead budget is held by the reader until read; the LRU has the rest.
    memoryBytes: Math.max(1 << 20, memoryCacheBytes - readAheadBudget(memoryCacheBytes)),
    diskDir: diskCacheBytes > 0 ? diskDir : undefined,
    diskBytes: diskCacheBytes,
  })
}

/** Of --memory-cache, read-ahead not read yet may take all but 8 MiB (blocks already read, for re-reads). */
export function readAheadBudget(memoryCacheBytes: number): number {
  return Math.max(4 << 20, memoryCacheBytes - (8 << 20))
}

/** Downloaded bytes between two young-generation collections (block-pool.ts says why). */
export const YOUNG_COLLECTION_BYTES = 4 << 20

/** A mount's reader options; `collectYoung` is V8's scavenge where the process can call it. */
export function readerOptionsFor(memoryCacheBytes: number, connections?: number, collectYoung?: () => void): Partial<ReaderOptions> {
  const options: Partial<ReaderOptions> = { prefetchBudgetBytes: readAheadBudget(memoryCacheBytes) }
  if (collectYoung) options.youngCollection = { everyBytes: YOUNG_COLLECTION_BYTES, collect: collectYoung }
  if (connections !== undefined) {
    options.maxConnections = connections
    options.maxLanesPerStream = Math.min(DEFAULT_READER_OPTIONS.maxLanesPerStream, connections)
  }
  return options
}

/** Per-handle sequential-read state. */
export interface ReadStream {
  /** Where the last read ended. */
  nextOffset: number
  windowBlocks: number
  /** The last block this handle's reads were counted for (the kernel reads 128 KiB at a time). */
  countedBlock?: number
  /** The furthest block this stream's reads reached (lanes run ahead of it). */
  readBlock: number
  /** The first block none of this stream's lanes has claimed. */
  claimed: number
  lanes: Set<Lane>
  /** Its lanes are slower than starvedBytesPerSec: what follows is striped over several lanes. */
  striped: boolean
  ended: boolean
  /** Lane blocks before this one were read past: they left the reader for the LRU. */
  passed: number
}

export interface ReaderStats {
  spans: number
  bytesFetched: number
  readAheadBytes: number
  /** GETs in flight now (lanes and random reads), and the most at once since the start. */
  connections: number
  peakConnections: number
  /** Streams that found their lanes starved and striped their read-ahead. */
  stripedStreams: number
  /** Lanes stopped before their end (their reader went elsewhere, or away). */
  cancelledLanes: number
  /** Reads that were not where the handle's last read ended. */
  randomReads: number
  /** Reads, and those that had to wait for bytes still downloading (and how long in all). */
  reads: number
  waits: number
  waitMs: number
  /** Blocks a read found dropped (their buffers reused) after it waited, and looked up again. */
  staleBlocks: number
  /** Block buffers (block-pool.ts). */
  blockBuffers: BlockPoolStats
}

/**
 * A read-ahead block counted against the budget from the moment its lane starts it. It stays
 * here, out of the LRU, until a read takes it (then it joins the cache): read-ahead is never
 * evicted before it is read, whatever order parallel lanes deliver in.
 */
interface Unread {
  bytes: number
  at: number
  fileId: string
  index: number
  stream: ReadStream
  block?: Block
}

/** One GET over blocks [next, end) of a file, consumed with backpressure. */
interface Lane {
  file: RemoteFileRef
  stream: ReadStream
  next: number
  end: number
  /** The furthest block a read is waiting for (a lane never holds back below it). */
  demand: number
  controller: AbortController
  wake?: () => void
  bytes: number
  firstByteAt?: number
  heldMs: number
}

interface Deferred {
  promise: Promise<Block>
  resolve(block: Block): void
  reject(error: unknown): void
  lane?: Lane
}

/**
 * A download body regrouped into whole blocks, each copied into one buffer of the pool: from
 * byte `start` (the start of block `firstIndex`) until `end()` bytes, which a caller may lower
 * while it reads. The copy lets each socket chunk die young (block-pool.ts says why that
 * matters); a block's buffer is the consumer's once yielded, and goes back to the pool if the
 * body breaks before the block is whole. The consumer's await between blocks is the
 * backpressure: the body is not pulled meanwhile. `offset()` tells how far the body got, for
 * the caller's "ended early" check.
 */
function blocksOfBody(chunks: AsyncIterable<Buffer>, at: { start: number; firstIndex: number; blockSize: number; fileSize: number; pool: BlockPool; end: () => number; onChunk: (chunk: Buffer) => void; onBytes: (bytes: number) => void }) {
  let offset = at.start
  async function* blocks(): AsyncGenerator<{ index: number; block: Block }> {
    let index = at.firstIndex
    let blockStart = index * at.blockSize
    let blockEnd = Math.min(at.fileSize, blockStart + at.blockSize)
    let buffer: Buffer | undefined
    try {
      for await (const chunk of chunks) {
        at.onChunk(chunk)
        let used = 0
        while (used < chunk.length && offset < at.end()) {
          // A chunk across a block boundary is split.
          const take = Math.min(chunk.length - used, blockEnd - offset)
          buffer ??= at.pool.acquire()
          chunk.copy(buffer, offset - blockStart, used, used + take)
          used += take
          offset += take
          at.onBytes(take)
          if (offset === blockEnd) {
            const length = blockEnd - blockStart
            const block = at.pool.seal([length === buffer.length ? buffer : buffer.subarray(0, length)])
            buffer = undefined
            yield { index, block }
            index++
            blockStart = blockEnd
            blockEnd = Math.min(at.fileSize, blockStart + at.blockSize)
          }
        }
        if (offset >= at.end()) return
      }
    } finally {
      if (buffer) at.pool.release(buffer)
    }
  }
  return { blocks: blocks(), offset: () => offset }
}

/** A body whose first chunk was already taken from `rest`, whole again. */
function replaying(head: IteratorResult<Buffer>, rest: AsyncIterator<Buffer>): AsyncIterable<Buffer> {
  let pending: IteratorResult<Buffer> | undefined = head
  const iterator: AsyncIterator<Buffer> = {
    next: () => {
      const first = pending
      pending = undefined
      return first ? Promise.resolve(first) : rest.next()
    },
    return: (value?: unknown) => rest.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
  }
  return { [Symbol.asyncIterator]: () => iterator }
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
  /** Blocks claimed by lanes ahead of any read: they count as read-ahead when read. */
  private readonly ahead = new Set<string>()
  /** Read-ahead blocks arrived that no read has taken yet, oldest first. */
  private readonly unread = new Map<string, Unread>()
  private unreadBytes = 0
  /** Lanes held back by the window or the budget. */
  private readonly held = new Set<Lane>()
  /** Streams that have lanes or read-ahead not read yet, and how many of those. */
  private readonly laneStreams = new Set<ReadStream>()
  private readonly unreadOf = new Map<ReadStream, number>()
  private readonly counters = { spans: 0, bytesFetched: 0, peakConnections: 0, stripedStreams: 0, cancelledLanes: 0, randomReads: 0, reads: 0, waits: 0, waitMs: 0, staleBlocks: 0 }
  private connections = 0
  private sinceCollection = 0
  private readonly waitingForSlot: Array<() => void> = []
  private closed = false

  constructor(
    private readonly source: DownloadSource,
    private readonly cache: BlockCache,
    options: Partial<ReaderOptions> = {},
  ) {
    this.options = { ...DEFAULT_READER_OPTIONS, ...options, blockSize: cache.blockSize }
  }

  newStream(): ReadStream {
    return { nextOffset: 0, windowBlocks: 1, readBlock: -1, claimed: 0, lanes: new Set(), striped: false, ended: false, passed: 0 }
  }

  stats(): ReaderStats {
    return {
      ...this.counters, waitMs: Math.round(this.counters.waitMs), readAheadBytes: this.unreadBytes, connections: this.connections,
      blockBuffers: this.cache.pool.stats(),
    }
  }

  /**
   * Read up to `length` bytes at `offset` (fewer bytes mean end of file). `consume` gets them as
   * slices of the cached blocks, no copy, and must be done with them when it returns: it copies
   * them where they go (the kernel's buffer). A block buffer goes to another block once the
   * cache drops it (block-pool.ts): the slices are checked current and handed to `consume` in
   * one synchronous step. Without `consume`, the bytes come back as a copy.
   */
  read(file: RemoteFileRef, stream: ReadStream, offset: number, length: number): Promise<Buffer>
  read<T>(file: RemoteFileRef, stream: ReadStream, offset: number, length: number, consume: (parts: Buffer[]) => T): Promise<T>
  async read<T>(file: RemoteFileRef, stream: ReadStream, offset: number, length: number, consume?: (parts: Buffer[]) => T): Promise<T | Buffer> {
    const use: (parts: Buffer[]) => T | Buffer = consume ?? ((parts) => Buffer.concat(parts))
    if (offset >= file.size || length <= 0) return use([])
    return this.readParts(file, stream, offset, length, use)
  }

  private async readParts<T>(file: RemoteFileRef, stream: ReadStream, offset: number, length: number, use: (parts: Buffer[]) => T): Promise<T> {
    const end = Math.min(file.size, offset + length)
    const size = this.options.blockSize
    const first = Math.floor(offset / size)
    const last = Math.floor((end - 1) / size)
    // The kernel's read-ahead sends requests slightly out of order: within a block of where the
    // last read ended, forwards or backwards, is still sequential.
    const sequential = offset >= stream.nextOffset - size && offset <= stream.nextOffset + size
    stream.nextOffset = sequential ? Math.max(stream.nextOffset, end) : end
    if (sequential) {
      // The window doubles with every new block the reader reaches, up to its maximum
      // (the first block read does not count: a file manager's or a player's probe of a head
      // fetches 1 block ahead, no more.)
      for (let block = Math.max(stream.readBlock + 1, first + (stream.readBlock < 0 ? 1 : 0)); block <= last; block++) {
        stream.windowBlocks = Math.min(this.maxWindow(stream), stream.windowBlocks * 2)
      }
      stream.readBlock = Math.max(stream.readBlock, last)
    } else {
      this.counters.randomReads++
      stream.windowBlocks = 1
      // Lanes far from here fetch what this reader no longer wants (the kernel's requests come
      // a little out of order: a lane near the read stays).
      for (const lane of stream.lanes) {
        if (lane.demand >= lane.next) continue
        if (lane.next > last + this.options.maxWindowBlocks) this.cancel(lane)
        // Behind the read: it finishes its block (and a file's first blocks, which go to disk
        // for the next look at the file), no more.
        else if (lane.end <= first - 1) this.shorten(lane, Math.max(lane.next + 1, Math.min(lane.end, this.options.edgeBlocks)))
      }
      stream.readBlock = last
      stream.claimed = last + 1
    }

    // Each block a handle reads counts once in the cache statistics, not once per request.
    const countFrom = stream.countedBlock === first ? first + 1 : first
    stream.countedBlock = last
    const waitedOn: Lane[] = []
    const blocks = this.blocks(file, first, last, { persist: !sequential, countFrom, stream: sequential ? stream : undefined, waitedOn })
    if (sequential) {
      for (const lane of stream.lanes) this.wakeLane(lane)
      this.pump(file, stream)
    }
    this.counters.reads++
    let parts: Block[]
    if (waitedOn.length === 0 && blocks.length === 1 && first === last) {
      parts = [await (blocks[0] as Promise<Block>)]
    } else {
      const t0 = performance.now()
      parts = await Promise.all(blocks)
      if (waitedOn.length > 0) {
        this.counters.waits++
        this.counters.waitMs += performance.now() - t0
      }
    }
    if (sequential) {
      // Blocks stay with the reader until it reads past them (the kernel reads a block in 8
      // requests: between two, other files' blocks must not evict it from a small LRU).
      for (let index = stream.passed; index < first; index++) this.consumed(BlockCache.key(file.id, index))
      stream.passed = Math.max(stream.passed, first)
    } else {
      for (let index = first; index <= last; index++) this.consumed(BlockCache.key(file.id, index))
      this.release(stream)
      stream.passed = last + 1
    }
    if (sequential && !stream.striped && waitedOn.some((lane) => this.starved(lane))) this.stripe(file, stream)
    // The last check of the blocks and their slicing below run in one synchronous step: any
    // await between them (even of a settled promise) would let a download's microtasks drop a
    // block and hand its buffer to another under the slices.
    for (let tries = 0; ; tries++) {
      const stale = parts.findIndex((block) => !this.cache.pool.current(block))
      if (stale < 0) break
      await this.readAgain(file, first, parts, stale, tries)
    }
    const out: Buffer[] = []
    let position = first * size
    for (const block of parts) {
      for (const chunk of block) {
        const chunkEnd = position + chunk.length
        if (chunkEnd > offset && position < end) out.push(chunk.subarray(Math.max(0, offset - position), Math.min(chunk.length, end - position)))
        position = chunkEnd
      }
    }
    return use(out)
  }

  /**
   * A block of this read that the cache dropped, and whose buffer went to another block, while
   * the read waited (for its other blocks, or a promise to settle) is looked up again, as a copy
   * that cannot go stale. Rare: the blocks a reader has not read past are kept for it; a memory
   * cache smaller than one read's blocks makes it happen on every read, and still reads right.
   */
  private async readAgain(file: RemoteFileRef, first: number, parts: Block[], stale: number, tries: number): Promise<void> {
    if (tries >= 2 * parts.length + 4) throw fsError('EIO', `block ${first + stale} of a file kept being dropped from the memory cache before it could be read`)
    this.counters.staleBlocks++
    const again = await (this.blocks(file, first + stale, first + stale, { persist: false, countFrom: Infinity, waitedOn: [] })[0] as Promise<Block>)
    // Copied in the same step as the check: the copy is this read's own.
    if (this.cache.pool.current(again)) parts[stale] = [Buffer.concat(again)]
  }

  /** A striped stream's window is twice as long: its lanes deliver out of order. */
  private maxWindow(stream: ReadStream): number {
    return stream.striped ? 2 * this.options.maxWindowBlocks : this.options.maxWindowBlocks
  }

  /** The handle is closed: its lanes stop (unless another reader waits on them). */
  endStream(stream: ReadStream): void {
    stream.ended = true
    for (const lane of stream.lanes) if (lane.demand < lane.next) this.cancel(lane)
    this.release(stream)
  }

  /** The stream's blocks no longer wait for its reader: into the cache (LRU) with the rest. */
  private release(stream: ReadStream): void {
    if (!this.unreadOf.has(stream)) return
    for (const [key, entry] of this.unread) if (entry.stream === stream && entry.block) this.consumed(key)
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
    for (const lane of [...this.held]) this.wakeLane(lane)
    for (const wake of this.waitingForSlot.splice(0)) wake()
  }

  // -------------------------------------------------------------------------------------------

  /** Promises for blocks first..last: cached, in flight, or fetched now. */
  private blocks(
    file: RemoteFileRef, first: number, last: number,
    how: { persist: boolean; countFrom: number; stream?: ReadStream; waitedOn: Lane[] },
  ): Array<Promise<Block>> {
    const out: Array<Promise<Block>> = []
    const count = (index: number, source: BlockSource) => {
      if (index >= how.countFrom) this.cache.count(source)
    }
    let spanStart = -1
    const flush = (endIndex: number) => {
      if (spanStart >= 0) this.fetchSpan(file, spanStart, endIndex, { persist: how.persist })
      spanStart = -1
    }
    for (let index = first; index <= last; index++) {
      const key = BlockCache.key(file.id, index)
      const early = this.unread.get(key)?.block
      if (early) {
        flush(index - 1)
        count(index, this.ahead.has(key) ? 'readAhead' : 'memory')
        out.push(Promise.resolve(early))
        continue
      }
      const cached = this.cache.peek(file.id, index, how.stream === undefined)
      if (cached) {
        flush(index - 1)
        count(index, this.ahead.has(key) ? 'readAhead' : 'memory')
        out.push(Promise.resolve(cached))
        continue
      }
      const pending = this.inflight.get(key)
      if (pending) {
        flush(index - 1)
        count(index, this.ahead.has(key) ? 'readAhead' : 'fetched')
        const lane = pending.lane
        if (lane) {
          if (index > lane.demand) lane.demand = index
          if (!how.waitedOn.includes(lane)) how.waitedOn.push(lane)
          this.wakeLane(lane)
        }
        out.push(pending.promise)
        continue
      }
      if (this.cache.has(file.id, index)) {
        // On disk: read it back (falls back to a fetch if the disk copy vanished).
        flush(index - 1)
        out.push(this.cache.get(file.id, index).then((block) => block ?? this.fetchOne(file, index)))
        continue
      }
      count(index, 'fetched')
      if (how.stream) {
        // A sequential reader: a lane from here, which the blocks after this one will find.
        const lane = this.startLane(file, how.stream, index, { demandUpTo: last, haveSlot: false })
        how.waitedOn.push(lane)
        out.push((this.inflight.get(key) as Deferred).promise)
        continue
      }
      if (spanStart < 0) spanStart = index
      // Register the deferred now so the span below and later readers share it.
      out.push(this.register(file.id, index).promise)
    }
    flush(last)
    return out
  }

  /**
   * The stream's lanes are starved: what follows their spans is striped, `stripeBlocks` per
   * lane, several at once. No lane is cut short: the bytes its host already sent past a cut
   * would be downloaded for nothing.
   */
  private stripe(file: RemoteFileRef, stream: ReadStream): void {
    stream.striped = true
    this.counters.stripedStreams++
    stream.windowBlocks = this.maxWindow(stream)
    this.pump(file, stream)
  }

  /** Start read-ahead lanes for a sequential stream: as many as it may have, within its window. */
  private pump(file: RemoteFileRef, stream: ReadStream): void {
    if (this.closed || stream.ended) return
    const lastBlock = Math.floor((file.size - 1) / this.options.blockSize)
    this.budgetUsed() // (read-ahead nobody came for in 30 s goes to the LRU)
    const limit = this.laneLimit(stream)
    // What lies behind the reader was read (or is being fetched for a read).
    if (stream.claimed <= stream.readBlock) stream.claimed = stream.readBlock + 1
    while (stream.lanes.size < limit) {
      while (stream.claimed <= lastBlock && this.known(file, stream.claimed)) stream.claimed++
      if (stream.claimed > lastBlock || stream.claimed > stream.readBlock + this.openAhead(stream)) return
      if (!this.tryAcquire()) return
      this.startLane(file, stream, stream.claimed, { demandUpTo: -1, haveSlot: true })
    }
  }

  /**
   * How far the stream's lanes may run ahead: its window, within its share of the read-ahead
   * budget among the streams that have lanes (so many files share the budget, and none waits
   * on read-ahead held for another: the budget is split, not raced for).
   */
  private window(stream: ReadStream): number {
    const sharing = new Set([...this.laneStreams, ...this.unreadOf.keys(), stream]).size
    // (Each stream also holds the block it is reading.)
    const share = Math.floor(this.options.prefetchBudgetBytes / this.options.blockSize / sharing) - 1
    return Math.max(1, Math.min(stream.windowBlocks, share))
  }

  /**
   * How far ahead of the reader a new lane may open its GET (its blocks still wait for the
   * window): a window further once the stream reads at its full window, so that the GET's
   * latency passes while the reader reads the window before it. Streams still probing (a
   * small window) and striped ones open lanes within their window only.
   */
  private openAhead(stream: ReadStream): number {
    const window = this.window(stream)
    return !stream.striped && stream.windowBlocks >= this.maxWindow(stream) ? 2 * window : window
  }

  private laneLimit(stream: ReadStream): number {
    return stream.striped ? this.options.maxLanesPerStream : 2
  }

  /** Cached (memory or disk) or already in flight: nothing to fetch. */
  private known(file: RemoteFileRef, index: number): boolean {
    const key = BlockCache.key(file.id, index)
    const entry = this.inflight.get(key)
    return entry !== undefined || this.unread.get(key)?.block !== undefined || this.cache.has(file.id, index)
  }

  /**
   * A lane from block `first`: a span of 2 windows (64 MiB once the window is grown: a long
   * GET, the next one started while it runs); a striped stream's lanes take `stripeBlocks` each. The span stops
   * at the first block already cached or in flight. Blocks up to `demandUpTo` are a read's own.
   */
  private startLane(file: RemoteFileRef, stream: ReadStream, first: number, how: { demandUpTo: number; haveSlot: boolean }): Lane {
    const size = this.options.blockSize
    const lastBlock = Math.floor((file.size - 1) / size)
    const span = stream.striped ? this.options.stripeBlocks : 2 * stream.windowBlocks
    let end = first + 1
    while (end <= lastBlock && end < first + span && !this.known(file, end)) end++
    const lane: Lane = { file, stream, next: first, end, demand: how.demandUpTo >= first ? how.demandUpTo : -1, controller: new AbortController(), bytes: 0, heldMs: 0 }
    stream.claimed = Math.max(stream.claimed, end)
    stream.lanes.add(lane)
    this.laneStreams.add(stream)
    for (let index = first; index < end; index++) {
      const entry = this.register(file.id, index)
      entry.lane = lane
      if (index > how.demandUpTo) this.ahead.add(BlockCache.key(file.id, index))
    }
    this.counters.spans++
    void this.runLane(lane, how.haveSlot)
    return lane
  }

  private async runLane(lane: Lane, haveSlot: boolean): Promise<void> {
    const { file, stream } = lane
    const size = this.options.blockSize
    const lastBlock = Math.floor((file.size - 1) / size)
    const persistBlock = (index: number) => index < this.options.edgeBlocks || index > lastBlock - this.options.edgeBlocks
    let slot = haveSlot
    let opened: AsyncIterator<Buffer> | undefined
    this.controllers.add(lane.controller)
    try {
      if (!slot) await this.acquire()
      slot = true
      if (this.closed) throw fsError('EIO', 'filesystem is shutting down')
      const spanStart = lane.next * size
      const spanEnd = Math.min(file.size, lane.end * size) // exclusive; a cut only lowers it
      const endByte = () => Math.min(file.size, lane.end * size)
      // The GET goes out before the window admits the lane's first block, and the lane waits
      // on its first chunk (TCP holds the rest): a new GET's latency passes while the reader
      // is still reading the blocks before it (pump opens lanes a window early for that).
      opened = this.source.readRange(file.url, spanStart, spanEnd - 1, { signal: lane.controller.signal, password: file.password })[Symbol.asyncIterator]()
      const head = await opened.next()
      if (!this.admit(lane)) await this.holdBack(lane)
      if (lane.controller.signal.aborted) throw fsError('EIO', 'read-ahead stopped')
      const { blocks } = blocksOfBody(replaying(head, opened), {
        start: spanStart, firstIndex: lane.next, blockSize: size, fileSize: file.size, pool: this.cache.pool, end: endByte,
        onChunk: (chunk) => {
          lane.firstByteAt ??= performance.now()
          lane.bytes += chunk.length
        },
        onBytes: (bytes) => this.received(bytes),
      })
      for await (const { index, block } of blocks) {
        this.complete(file.id, index, block, persistBlock(index))
        lane.next = index + 1
        if (lane.next * size >= endByte()) break
        // Backpressure, block by block: while held back, the body is not pulled and TCP
        // holds the rest.
        if (!this.admit(lane)) await this.holdBack(lane)
        if (lane.controller.signal.aborted) throw fsError('EIO', 'read-ahead stopped')
      }
      if (lane.next < lane.end) throw fsError('EIO', `download of ${file.id} ended at block ${lane.next} of ${lane.end}`)
    } catch (error) {
      this.failLane(lane, error)
    } finally {
      // (A body given up before blocksOfBody took it is closed here: its socket goes back.)
      void opened?.return?.().catch(() => undefined)
      this.controllers.delete(lane.controller)
      this.held.delete(lane)
      stream.lanes.delete(lane)
      if (stream.lanes.size === 0) this.laneStreams.delete(stream)
      if (slot) this.releaseSlot()
      this.pump(file, stream)
    }
  }

  /**
   * May the lane start its next block: a read waits for it, or it is within the window and
   * the budget (and then it counts against the budget from now on: checked and reserved at once).
   */
  private admit(lane: Lane): boolean {
    if (this.closed || lane.controller.signal.aborted || lane.next >= lane.end) return true
    const key = BlockCache.key(lane.file.id, lane.next)
    if (this.unread.has(key)) return true
    if (lane.next > lane.demand && lane.next > lane.stream.readBlock + this.window(lane.stream)) return false
    const bytes = this.blockBytes(lane.file, lane.next)
    this.unread.set(key, { bytes, at: Date.now(), fileId: lane.file.id, index: lane.next, stream: lane.stream })
    this.unreadBytes += bytes
    this.unreadOf.set(lane.stream, (this.unreadOf.get(lane.stream) ?? 0) + 1)
    return true
  }

  private blockBytes(file: RemoteFileRef, index: number): number {
    return Math.min(this.options.blockSize, file.size - index * this.options.blockSize)
  }


  /** Wait until the reader catches up (or the budget frees up); a lane held too long is closed. */
  private async holdBack(lane: Lane): Promise<void> {
    const since = performance.now()
    this.held.add(lane)
    try {
      while (!this.admit(lane)) {
        if (performance.now() - since >= this.options.idleLaneMs) {
          this.cancel(lane)
          return
        }
        await new Promise<void>((resume) => {
          const timer = setTimeout(resume, Math.max(1, this.options.idleLaneMs - (performance.now() - since)))
          timer.unref?.()
          lane.wake = () => {
            clearTimeout(timer)
            resume()
          }
        })
        lane.wake = undefined
      }
    } finally {
      this.held.delete(lane)
      lane.heldMs += performance.now() - since
    }
  }

  /** The lane stops at block `end`: the blocks after it are given up (no read waits on them). */
  private shorten(lane: Lane, end: number): void {
    if (end >= lane.end) return
    for (let index = end; index < lane.end; index++) {
      const key = BlockCache.key(lane.file.id, index)
      const entry = this.inflight.get(key)
      if (entry?.lane !== lane) continue
      this.consumed(key)
      this.inflight.delete(key)
      entry.reject(fsError('EIO', `read-ahead of ${lane.file.id} was stopped`))
    }
    lane.end = end
    this.wakeLane(lane)
  }

  private wakeLane(lane: Lane): void {
    lane.wake?.()
  }

  /** Stop a lane: the blocks it has not delivered are given up (a later read fetches them). */
  private cancel(lane: Lane): void {
    if (!lane.controller.signal.aborted) this.counters.cancelledLanes++
    // Its blocks not arrived yet are given up now, not when its download notices the abort: a
    // read of another handle that comes meanwhile fetches them afresh instead of waiting on a
    // lane that is going to fail (no read waits on them now: callers check the lane's demand).
    this.shorten(lane, lane.next)
    if (lane.stream.claimed > lane.next) lane.stream.claimed = lane.next
    lane.controller.abort()
    this.wakeLane(lane)
  }

  private failLane(lane: Lane, error: unknown): void {
    const aborted = lane.controller.signal.aborted && !this.closed
    const failure = error instanceof FichierApiError || (error as { errno?: string } | undefined)?.errno
      ? error
      : fsError('EIO', `download of ${lane.file.id} failed: ${(error as Error).message}`, error)
    for (let index = lane.next; index < lane.end; index++) {
      const key = BlockCache.key(lane.file.id, index)
      const entry = this.inflight.get(key)
      if (entry?.lane !== lane) continue
      this.consumed(key)
      this.inflight.delete(key)
      entry.reject(aborted ? fsError('EIO', `read-ahead of ${lane.file.id} was stopped`) : failure)
    }
    // The stream may claim these blocks again.
    if (lane.stream.claimed > lane.next) lane.stream.claimed = Math.min(lane.stream.claimed, lane.next)
  }

  /** A lane delivering under starvedBytesPerSec (after 4 blocks), time held back not counted. */
  private starved(lane: Lane): boolean {
    if (lane.firstByteAt === undefined || lane.bytes < 4 * this.options.blockSize) return false
    const activeMs = performance.now() - lane.firstByteAt - lane.heldMs
    return activeMs > 0 && (lane.bytes * 1000) / activeMs < this.options.starvedBytesPerSec
  }

  // --- connection slots: every GET holds one ---------------------------------------------------

  private tryAcquire(): boolean {
    if (this.connections >= this.options.maxConnections || this.waitingForSlot.length > 0) return false
    this.take()
    return true
  }

  private acquire(): Promise<void> {
    if (this.closed || this.tryAcquire()) return Promise.resolve()
    const granted = new Promise<void>((resolve) => this.waitingForSlot.push(() => {
      this.take()
      resolve()
    }))
    return granted
  }

  private take(): void {
    this.connections++
    if (this.connections > this.counters.peakConnections) this.counters.peakConnections = this.connections
  }

  private releaseSlot(): void {
    this.connections--
    this.waitingForSlot.shift()?.()
  }

  private fetchOne(file: RemoteFileRef, index: number): Promise<Block> {
    const pending = this.inflight.get(BlockCache.key(file.id, index)) ?? this.register(file.id, index)
    this.fetchSpan(file, index, index, { persist: true })
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

  /**
   * A random read's blocks first..last with one ranged GET (resuming where a body breaks).
   * Deferreds for those blocks must already be registered; each resolves once complete.
   */
  private fetchSpan(file: RemoteFileRef, first: number, last: number, how: { persist: boolean }): void {
    const size = this.options.blockSize
    const spanStart = first * size
    const spanEnd = Math.min(file.size, (last + 1) * size) // exclusive
    this.counters.spans++
    const lastBlock = Math.floor((file.size - 1) / size)
    const persistBlock = (index: number) =>
      how.persist || index < this.options.edgeBlocks || index > lastBlock - this.options.edgeBlocks

    const run = async () => {
      await this.acquire()
      const controller = new AbortController()
      this.controllers.add(controller)
      let body: ReturnType<typeof blocksOfBody> | undefined
      try {
        if (this.closed) throw fsError('EIO', 'filesystem is shutting down')
        const chunks = this.source.readRange(file.url, spanStart, spanEnd - 1, { signal: controller.signal, password: file.password })
        body = blocksOfBody(chunks, {
          start: spanStart, firstIndex: first, blockSize: size, fileSize: file.size, pool: this.cache.pool, end: () => spanEnd,
          onChunk: () => undefined,
          onBytes: (bytes) => this.received(bytes),
        })
        for await (const { index, block } of body.blocks) this.complete(file.id, index, block, persistBlock(index))
      } finally {
        this.controllers.delete(controller)
        this.releaseSlot()
      }
      const offset = body.offset()
      if (offset < spanEnd) throw fsError('EIO', `download of ${file.id} ended at byte ${offset} of ${spanEnd}`)
    }

    run()
      .catch((error: unknown) => {
        const failure = error instanceof FichierApiError || (error as { errno?: string } | undefined)?.errno
          ? error
          : fsError('EIO', `download of ${file.id} failed: ${(error as Error).message}`, error)
        for (let index = first; index <= last; index++) {
          const key = BlockCache.key(file.id, index)
          const entry = this.inflight.get(key)
          if (entry && !entry.lane) {
            this.inflight.delete(key)
            entry.reject(failure)
          }
        }
      })
  }

  /** Bytes downloaded, for the counters and the young-generation collection. */
  private received(bytes: number): void {
    this.counters.bytesFetched += bytes
    const young = this.options.youngCollection
    if (!young) return
    this.sinceCollection += bytes
    if (this.sinceCollection < young.everyBytes) return
    this.sinceCollection -= young.everyBytes
    young.collect()
  }

  private consumed(key: string): void {
    this.ahead.delete(key)
    const entry = this.unread.get(key)
    if (!entry) return
    this.unread.delete(key)
    this.unreadBytes -= entry.bytes
    const left = (this.unreadOf.get(entry.stream) ?? 1) - 1
    if (left > 0) this.unreadOf.set(entry.stream, left)
    else this.unreadOf.delete(entry.stream)
    // Read now: an ordinary cached block, for re-reads.
    if (entry.block) this.cache.set(entry.fileId, entry.index, entry.block)

  }

  /** Bytes of read-ahead not read yet; read-ahead nobody came for in 30 s stops counting. */
  private budgetUsed(): number {
    const first = this.unread.entries().next()
    if (!first.done && first.value[1].at < Date.now() - 30_000) {
      const stale = Date.now() - 30_000
      for (const [key, entry] of this.unread) {
        if (entry.at >= stale) break
        this.consumed(key)
      }
    }
    return this.unreadBytes
  }

  private complete(fileId: string, index: number, block: Block, persist: boolean): void {
    const key = BlockCache.key(fileId, index)
    const ahead = this.unread.get(key)
    if (ahead) {
      ahead.block = block
      if (persist) this.cache.persist(fileId, index, block)
    } else {
      this.cache.set(fileId, index, block, persist)
    }
    const entry = this.inflight.get(key)
    this.inflight.delete(key)
    entry?.resolve(block)
  }
}
