/**
 * Cache of file content in fixed-size blocks, keyed by file id and block index.
 *
 * A 1fichier file's content never changes under one URL (an overwrite is a new upload with a
 * new URL), so a block is valid for as long as it is kept. A downloaded block is one buffer of
 * the pool (block-pool.ts), which the memory tier gives back when it drops the block. Two tiers:
 *   - memory: an LRU bounded in bytes (lru-cache), for re-reads and read-ahead;
 *   - disk (optional): an LRU of block files under the cache dir, bounded in bytes, for the
 *     blocks worth keeping across remounts (heads and tails that players and thumbnailers
 *     probe, random reads). Sequential streaming of a long file stays in memory only.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LRUCache } from 'lru-cache'
import { BlockPool } from './block-pool.js'

/** A block's bytes, in order (one buffer for a downloaded block; a list where bytes came in parts). */
export type Block = Buffer[]

export function blockLength(block: Block): number {
  let length = 0
  for (const chunk of block) length += chunk.length
  return length
}

export interface BlockCacheOptions {
  blockSize: number
  memoryBytes: number
  /** Directory for the disk tier; none means memory only. */
  diskDir?: string
  diskBytes?: number
}

/**
 * Blocks that reads needed, by where they came from: `hits` from memory (read before),
 * `readAheadHits` fetched ahead of the reader (in memory or still arriving), `diskHits` from the
 * disk tier, `misses` downloaded for the read itself.
 */
export interface BlockCacheStats {
  hits: number
  readAheadHits: number
  diskHits: number
  misses: number
  memoryBytes: number
  diskBytes: number
}

/** Where a block a read needed came from (the reader knows; the cache counts). */
export type BlockSource = 'memory' | 'readAhead' | 'fetched'

export class BlockCache {
  readonly blockSize: number
  /** Buffers for downloaded blocks: a block the memory tier drops goes back here (block-pool.ts). */
  readonly pool: BlockPool
  private readonly memory: LRUCache<string, Block>
  private readonly disk?: LRUCache<string, number>
  private readonly diskDir?: string
  private readonly counters = { hits: 0, readAheadHits: 0, diskHits: 0, misses: 0 }
  private readonly writes = new Set<Promise<void>>()

  constructor(options: BlockCacheOptions) {
    this.blockSize = options.blockSize
    this.pool = new BlockPool(options.blockSize)
    this.memory = new LRUCache<string, Block>({
      maxSize: Math.max(options.memoryBytes, options.blockSize),
      sizeCalculation: (block) => Math.max(1, blockLength(block)),
      // Evicted, replaced or forgotten: its buffer goes back to the pool for the next block (a
      // read that still holds the block sees it is stale, block-pool.ts).
      dispose: (block) => this.pool.retire(block),
    })
    if (options.diskDir && (options.diskBytes ?? 0) > 0) {
      this.diskDir = options.diskDir
      mkdirSync(options.diskDir, { recursive: true })
      this.disk = new LRUCache<string, number>({
        maxSize: options.diskBytes as number,
        sizeCalculation: (size) => Math.max(1, size),
        dispose: (_size, key, reason) => {
          if (reason !== 'set') void rm(this.diskPath(key), { force: true })
        },
      })
      this.loadDiskIndex()
    }
  }

  static key(fileId: string, index: number): string {
    return `${fileId}:${index}`
  }

  /**
   * A block from memory only (synchronous, for the hot path; the caller counts it, see count).
   * `touch: false` leaves its place in the LRU as it was: a sequential reader's blocks keep the
   * order they arrived in, so the blocks behind it go before read-ahead it has not reached yet.
   */
  peek(fileId: string, index: number, touch = true): Block | undefined {
    const key = BlockCache.key(fileId, index)
    return touch ? this.memory.get(key) : this.memory.peek(key)
  }

  /** Count a block a read needed that did not come through get() (which counts its own). */
  count(source: BlockSource): void {
    if (source === 'memory') this.counters.hits++
    else if (source === 'readAhead') this.counters.readAheadHits++
    else this.counters.misses++
  }

  has(fileId: string, index: number): boolean {
    const key = BlockCache.key(fileId, index)
    return this.memory.has(key) || (this.disk?.has(key) ?? false)
  }

  /** A block from memory, else from disk (promoted to memory), else undefined (counted). */
  async get(fileId: string, index: number): Promise<Block | undefined> {
    const key = BlockCache.key(fileId, index)
    const inMemory = this.memory.get(key)
    if (inMemory) {
      this.counters.hits++
      return inMemory
    }
    if (this.disk?.get(key) !== undefined) {
      try {
        const block = [await readFile(this.diskPath(key))]
        this.counters.diskHits++
        this.memory.set(key, block)
        return block
      } catch {
        this.disk.delete(key)
      }
    }
    this.counters.misses++
    return undefined
  }

  /** Store a block; `persist` also writes it to the disk tier (when there is one). */
  set(fileId: string, index: number, block: Block, persist = false): void {
    const key = BlockCache.key(fileId, index)
    this.memory.set(key, block)
    if (persist) this.persist(fileId, index, block)
  }

  /**
   * Store a block on the disk tier only (no memory tier, no-op without a disk tier): bytes known
   * from elsewhere (a file just uploaded from local bytes) that a later first read will want.
   */
  persist(fileId: string, index: number, block: Block): void {
    const key = BlockCache.key(fileId, index)
    if (!this.disk || this.disk.has(key)) return
    this.disk.set(key, blockLength(block))
    // The write outlives this call: a pooled buffer could be reused under it, so it gets a copy.
    const bytes = block.length === 1 && !this.pool.owns(block[0] as Buffer) ? (block[0] as Buffer) : Buffer.concat(block)
    const write = this.writeBlock(key, bytes).finally(() => this.writes.delete(write))
    this.writes.add(write)
  }

  /** Forget every block of a file (it was deleted or replaced). */
  forgetFile(fileId: string): void {
    const prefix = `${fileId}:`
    for (const key of [...this.memory.keys()]) if (key.startsWith(prefix)) this.memory.delete(key)
    if (this.disk) for (const key of [...this.disk.keys()]) if (key.startsWith(prefix)) this.disk.delete(key)
  }

  /** Wait for disk writes in progress (before the process exits). */
  async flush(): Promise<void> {
    await Promise.all([...this.writes])
  }

  stats(): BlockCacheStats {
    return { ...this.counters, memoryBytes: this.memory.calculatedSize ?? 0, diskBytes: this.disk?.calculatedSize ?? 0 }
  }

  private diskPath(key: string): string {
    // Keys are `<id>:<index>`; ids are [a-z0-9]. Keep file names portable.
    return join(this.diskDir as string, key.replace(/[^a-zA-Z0-9_.-]/g, '_'))
  }

  private async writeBlock(key: string, bytes: Buffer): Promise<void> {
    const path = this.diskPath(key)
    const temp = `${path}.${process.pid}.tmp`
    try {
      await writeFile(temp, bytes)
      await rename(temp, path)
      // Evicted while it was being written: its eviction found no file to delete.
      if (!this.disk?.has(key)) await rm(path, { force: true })
    } catch {
      this.disk?.delete(key)
      await rm(temp, { force: true }).catch(() => undefined)
    }
  }

  /** Rebuild the disk index at start, oldest first so the LRU order roughly survives. */
  private loadDiskIndex(): void {
    const dir = this.diskDir as string
    const entries: Array<{ key: string; size: number; mtime: number }> = []
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (name.endsWith('.tmp')) {
        rmSync(path, { force: true })
        continue
      }
      const match = name.match(/^([a-zA-Z0-9]+)_(\d+)$/)
      if (!match) continue
      const stat = statSync(path)
      entries.push({ key: `${match[1]}:${match[2]}`, size: stat.size, mtime: stat.mtimeMs })
    }
    entries.sort((a, b) => a.mtime - b.mtime)
    for (const entry of entries) this.disk?.set(entry.key, entry.size)
  }
}
