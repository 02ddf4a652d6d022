/**
 * Block buffers that are used again instead of left to the garbage collector.
 *
 * Why: a download body arrives in 64 KiB socket chunks. Kept as they are, every block of the
 * memory cache is a list of chunks that lives for seconds: V8 promotes them to its old
 * generation and frees their memory only at its next full collection, by which time tens of
 * MiB of dropped blocks are still resident (docs/SEMANTICS.md, "Memory"). Copied into a block
 * buffer from here, a chunk dies young (a scavenge frees it), and a block the cache drops comes
 * back here for the next block instead of becoming garbage.
 *
 * The hazard is reuse while a read still holds the old bytes. A read does not lock anything:
 * each filled buffer belongs to one block (the `Block` list it was `seal`ed into, by identity),
 * and a block the cache drops (`retire`) gives its buffers up at once. A read that got a block,
 * then waited (for the rest of its blocks, for a promise to settle), asks `current(block)`
 * before it copies: a block whose buffer went to another block since is stale, and the read
 * looks it up again. The check and the copy must run with no await between them (the reader
 * makes them one synchronous step), so nothing can retire the block in between. Anything else
 * that keeps a block past a read (the disk tier's writes) takes a copy first (`owns`).
 */
import type { Block } from './block-cache.js'

export interface BlockPoolStats {
  /** Buffers made; handed out again from the free list; retired by the cache; left to the GC. */
  allocated: number
  reused: number
  retired: number
  dropped: number
  /** Free now. */
  free: number
}

export class BlockPool {
  private readonly free: ArrayBuffer[] = []
  /** Each issued buffer's block (its owner); a buffer free or not sealed yet has none. */
  private readonly owner = new WeakMap<ArrayBuffer, Block | null>()
  private readonly counters = { allocated: 0, reused: 0, retired: 0, dropped: 0 }

  constructor(
    readonly blockSize: number,
    /** Free buffers kept for reuse (a burst of evictions); beyond, they are left to the GC. */
    private readonly keepFree = 8,
  ) {}

  /** A buffer of `blockSize` bytes (contents undefined), from the free list or new. */
  acquire(): Buffer {
    const buffer = this.free.pop()
    if (buffer) {
      this.counters.reused++
      return Buffer.from(buffer)
    }
    this.counters.allocated++
    const fresh = Buffer.allocUnsafeSlow(this.blockSize)
    this.owner.set(fresh.buffer as ArrayBuffer, null)
    return fresh
  }

  /** Is this one of the pool's buffers (or a view of one)? */
  owns(view: Buffer): boolean {
    return this.owner.has(view.buffer as ArrayBuffer)
  }

  /** The block now holds its buffers' bytes: it owns them until it is retired. */
  seal(block: Block): Block {
    for (const chunk of block) if (this.owns(chunk)) this.owner.set(chunk.buffer as ArrayBuffer, block)
    return block
  }

  /** Are the block's bytes still its own (none of its buffers retired and handed out since)? */
  current(block: Block): boolean {
    for (const chunk of block) {
      const owner = this.owner.get(chunk.buffer as ArrayBuffer)
      if (owner !== undefined && owner !== block) return false
    }
    return true
  }

  /**
   * The cache dropped the block: its buffers go to the free list. A block that no longer owns a
   * buffer (retired before, or a stale copy of the list) gives nothing back.
   */
  retire(block: Block): void {
    for (const chunk of block) {
      const buffer = chunk.buffer as ArrayBuffer
      if (this.owner.get(buffer) !== block) continue
      this.counters.retired++
      this.keep(buffer)
    }
  }

  /** A buffer acquired and never sealed into a block (a download that broke mid-block). */
  release(view: Buffer): void {
    const buffer = view.buffer as ArrayBuffer
    if (this.owner.get(buffer) !== null || this.free.includes(buffer)) return
    this.keep(buffer)
  }

  stats(): BlockPoolStats {
    return { ...this.counters, free: this.free.length }
  }

  private keep(buffer: ArrayBuffer): void {
    this.owner.set(buffer, null)
    if (this.free.length < this.keepFree) this.free.push(buffer)
    else this.counters.dropped++
  }
}
