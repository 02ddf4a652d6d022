/**
 * A block buffer belongs to one block at a time: the block the cache dropped gives it up at
 * once, and a read that still holds that block can tell it is stale. Nothing (a double retire,
 * a stale list, a foreign buffer, a burst of evictions) can make two owners of one buffer or
 * keep memory without bound.
 */
import { describe, expect, it } from 'vitest'
import { BlockPool } from '../../src/cache/block-pool.js'

const SIZE = 4096

describe('BlockPool', () => {
  it('hands a retired buffer out again; the block that had it is no longer current', () => {
    const pool = new BlockPool(SIZE)
    const first = pool.acquire()
    expect(first.length).toBe(SIZE)
    expect(pool.owns(first.subarray(0, 10))).toBe(true)
    // (The last block of a file is a shorter view.)
    const old = pool.seal([first.subarray(0, 100)])
    expect(pool.current(old)).toBe(true)
    pool.retire(old)
    expect(pool.current(old)).toBe(false)
    const again = pool.acquire()
    expect(again.buffer).toBe(first.buffer)
    // Being filled: the old block stays stale, and so does it once the new block has it.
    expect(pool.current(old)).toBe(false)
    const next = pool.seal([again])
    expect(pool.current(next)).toBe(true)
    expect(pool.current(old)).toBe(false)
    expect(pool.stats()).toMatchObject({ allocated: 1, reused: 1, retired: 1, free: 0 })
  })

  it('a block retired twice, or a stale list of it, gives its buffer back once', () => {
    const pool = new BlockPool(SIZE)
    const buffer = pool.acquire()
    const block = pool.seal([buffer])
    const copyOfList = [...block]
    pool.retire(block)
    pool.retire(block)
    pool.retire(copyOfList)
    const one = pool.acquire()
    const two = pool.acquire()
    expect(one.buffer).toBe(buffer.buffer)
    expect(two.buffer).not.toBe(buffer.buffer)
    // The new owner keeps it though the old block is retired again.
    const owner = pool.seal([one])
    pool.retire(block)
    expect(pool.current(owner)).toBe(true)
    expect(pool.stats()).toMatchObject({ retired: 1, free: 0 })
    pool.retire(owner)
    expect(pool.acquire().buffer).toBe(buffer.buffer)
  })

  it('takes back a buffer never sealed (a broken download), once', () => {
    const pool = new BlockPool(SIZE)
    const partial = pool.acquire()
    pool.release(partial)
    pool.release(partial)
    expect(pool.stats().free).toBe(1)
    expect(pool.acquire().buffer).toBe(partial.buffer)
    // A sealed buffer is not released by mistake: only retiring its block frees it.
    const sealed = pool.seal([pool.acquire()])
    pool.release(sealed[0] as Buffer)
    expect(pool.current(sealed)).toBe(true)
    expect(pool.stats().free).toBe(0)
  })

  it('ignores buffers it did not issue: always current, never handed out', () => {
    const pool = new BlockPool(SIZE)
    const foreign = [Buffer.alloc(SIZE)]
    expect(pool.owns(foreign[0] as Buffer)).toBe(false)
    pool.seal(foreign)
    pool.retire(foreign)
    pool.release(foreign[0] as Buffer)
    expect(pool.current(foreign)).toBe(true)
    expect(pool.acquire().buffer).not.toBe((foreign[0] as Buffer).buffer)
    expect(pool.stats()).toMatchObject({ retired: 0, allocated: 1 })
  })

  it('keeps at most keepFree buffers free: a burst of evictions beyond goes to the GC', () => {
    const pool = new BlockPool(SIZE, 2)
    const blocks = Array.from({ length: 5 }, () => pool.seal([pool.acquire()]))
    for (const block of blocks) pool.retire(block)
    expect(pool.stats()).toMatchObject({ retired: 5, free: 2, dropped: 3 })
    for (const block of blocks) expect(pool.current(block)).toBe(false)
  })
})
