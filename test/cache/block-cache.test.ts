/** The disk tier keeps at most --disk-cache bytes, the most recently used blocks, across restarts. */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { BlockCache } from '../../src/cache/block-cache.js'
import { removeDir, tempDir } from '../support/mount.js'

const BLOCK = 1024
let dir: string | undefined
afterEach(async () => {
  if (dir) await removeDir(dir)
})

function onDisk(path: string): { files: number; bytes: number } {
  const names = readdirSync(path).filter((name) => !name.endsWith('.tmp'))
  return { files: names.length, bytes: names.reduce((sum, name) => sum + statSync(join(path, name)).size, 0) }
}

it('evicts the least recently used blocks beyond its size, on disk too, and finds the rest after a restart', async () => {
  dir = await tempDir('blocks')
  const diskDir = join(dir, 'blocks')
  const cache = new BlockCache({ blockSize: BLOCK, memoryBytes: 2 * BLOCK, diskDir, diskBytes: 5 * BLOCK })
  for (let index = 0; index < 20; index++) cache.set('f', index, [Buffer.alloc(BLOCK, index)], true)
  await cache.flush()
  await vi.waitFor(() => expect(onDisk(diskDir)).toEqual({ files: 5, bytes: 5 * BLOCK }))

  const again = new BlockCache({ blockSize: BLOCK, memoryBytes: 2 * BLOCK, diskDir, diskBytes: 5 * BLOCK })
  expect([...Array(20).keys()].filter((index) => again.has('f', index))).toEqual([15, 16, 17, 18, 19])
  const block = await again.get('f', 17)
  expect(Buffer.concat(block ?? []).equals(Buffer.alloc(BLOCK, 17))).toBe(true)
  expect(again.stats().diskHits).toBe(1)
})

it('a pooled block written to disk keeps its bytes when its buffer is used again before the write ends', async () => {
  dir = await tempDir('blocks')
  const diskDir = join(dir, 'blocks')
  const cache = new BlockCache({ blockSize: BLOCK, memoryBytes: BLOCK, diskDir, diskBytes: 4 * BLOCK })
  const buffer = cache.pool.acquire().fill(7)
  cache.set('f', 0, cache.pool.seal([buffer]), true)
  // Evicted at once (a memory tier of one block), handed out again and overwritten, while the
  // disk write is still in flight.
  cache.set('f', 1, [Buffer.alloc(BLOCK, 1)])
  const reused = cache.pool.acquire()
  expect(reused.buffer).toBe(buffer.buffer)
  reused.fill(9)
  await cache.flush()
  const again = new BlockCache({ blockSize: BLOCK, memoryBytes: BLOCK, diskDir, diskBytes: 4 * BLOCK })
  const block = await again.get('f', 0)
  expect(Buffer.concat(block ?? []).equals(Buffer.alloc(BLOCK, 7))).toBe(true)
})
