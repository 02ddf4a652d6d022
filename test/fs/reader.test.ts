/**
 * The reader's fetch pattern, against a fake download source that records every range asked
 * for: sequential reads grow a read-ahead window within one budget; random reads fetch only
 * the blocks they touch; nothing is downloaded twice.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { BlockCache } from '../../src/cache/block-cache.js'
import { RemoteReader, type DownloadSource, type ReaderOptions } from '../../src/fs/reader.js'

const BLOCK = 1024

/** Where the reader is reading when a range is asked for (set by the test before each read). */
let readingAt = 0

function fakeSource(files: Record<string, Buffer>) {
  const ranges: Array<{ url: string; start: number; end: number; readingAt: number }> = []
  const source: DownloadSource = {
    async *readRange(url, start, end) {
      ranges.push({ url, start, end, readingAt })
      const data = files[url] as Buffer
      // Arrives in uneven chunks, across block boundaries, as a socket delivers it.
      for (let at = start; at <= end; at += 700) yield data.subarray(at, Math.min(end + 1, at + 700))
    },
    forgetLink: () => undefined,
  }
  return { source, ranges }
}

function setup(options: Partial<ReaderOptions>, files: Record<string, Buffer>) {
  const { source, ranges } = fakeSource(files)
  const reader = new RemoteReader(source, new BlockCache({ blockSize: BLOCK, memoryBytes: 1 << 20 }), options)
  const ref = (url: string) => ({ url, id: url, size: (files[url] as Buffer).length })
  return { reader, ranges, ref }
}

/** How a kernel reads a file with `cat`: fixed-size requests, one after the other. */
async function readSequentially(reader: RemoteReader, file: { url: string; id: string; size: number }, requestBytes: number): Promise<Buffer> {
  const stream = reader.newStream()
  const parts: Buffer[] = []
  for (let offset = 0; offset < file.size; offset += requestBytes) {
    readingAt = offset
    parts.push(Buffer.concat(await reader.read(file, stream, offset, requestBytes)))
  }
  return Buffer.concat(parts)
}

describe('RemoteReader', () => {
  it('a sequential reader gets a read-ahead window that doubles up to its maximum, fetched in parts', async () => {
    const data = randomBytes(64 * BLOCK + 100)
    const { reader, ranges, ref } = setup({ maxWindowBlocks: 8, partBlocks: 2, prefetchBudgetBytes: 1 << 20 }, { a: data })
    expect((await readSequentially(reader, ref('a'), 256)).equals(data)).toBe(true)
    // Every byte downloaded once.
    expect(reader.stats().bytesFetched).toBe(data.length)
    const covered = ranges.map((range) => range.end - range.start + 1).reduce((a, b) => a + b, 0)
    expect(covered).toBe(data.length)
    // First the block being read, then read-ahead of 1 block, 2, then parts of 2 blocks.
    const blocksOf = ranges.map((range) => [range.start / BLOCK, Math.ceil((range.end + 1) / BLOCK) - 1])
    expect(blocksOf.slice(0, 5)).toEqual([[0, 0], [1, 1], [2, 2], [3, 4], [5, 6]])
    expect(Math.max(...ranges.map((range) => range.end - range.start + 1))).toBe(2 * BLOCK)
    // The window grew to its maximum, and never past it: requests end at most 8 blocks ahead.
    const ahead = ranges.map((range) => Math.ceil((range.end + 1) / BLOCK) - 1 - Math.floor(range.readingAt / BLOCK))
    expect(Math.max(...ahead)).toBe(8)
  })

  it('random reads fetch only the blocks they touch, with no read-ahead', async () => {
    const data = randomBytes(200 * BLOCK)
    const { reader, ranges, ref } = setup({ maxWindowBlocks: 32, partBlocks: 4 }, { a: data })
    const file = ref('a')
    const stream = reader.newStream()
    const offsets = [150 * BLOCK + 10, 3 * BLOCK + 1000, 99 * BLOCK, 170 * BLOCK + 500, 40 * BLOCK + 900]
    for (const offset of offsets) {
      readingAt = offset
      const got = Buffer.concat(await reader.read(file, stream, offset, 100))
      expect(got.equals(data.subarray(offset, offset + 100))).toBe(true)
    }
    // 3*BLOCK+1000 .. +100 crosses into the next block: 6 blocks for 5 reads, nothing more.
    const blocks = ranges.flatMap((range) => Array.from({ length: (range.end - range.start + 1) / BLOCK }, (_, i) => range.start / BLOCK + i))
    expect(blocks.sort((a, b) => a - b)).toEqual([3, 4, 40, 99, 150, 170])
    expect(reader.stats().readAheadBytes).toBe(0)
  })

  it('read-ahead of all readers stays within one byte budget', async () => {
    const files = { a: randomBytes(40 * BLOCK), b: randomBytes(40 * BLOCK) }
    const { reader, ranges, ref } = setup({ maxWindowBlocks: 16, partBlocks: 2, prefetchBudgetBytes: 4 * BLOCK }, files)
    const streams = { a: reader.newStream(), b: reader.newStream() }
    let peak = 0
    // Two files read in turns, as two players would.
    for (let offset = 0; offset < 40 * BLOCK; offset += 512) {
      for (const name of ['a', 'b'] as const) {
        readingAt = offset
        const got = Buffer.concat(await reader.read(ref(name), streams[name], offset, 512))
        expect(got.equals(files[name].subarray(offset, offset + 512))).toBe(true)
        peak = Math.max(peak, reader.stats().readAheadBytes)
      }
    }
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(4 * BLOCK)
    // Still nothing fetched twice.
    expect(reader.stats().bytesFetched).toBe(80 * BLOCK)
    expect(ranges.every((range) => range.end - range.start + 1 <= 2 * BLOCK)).toBe(true)
  })
})
