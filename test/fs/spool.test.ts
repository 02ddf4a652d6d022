/** The spool works wherever the cache dir is, not only under the system temp dir. */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { whirlpoolOfFile } from '../../src/client/whirlpool.js'
import { Spool } from '../../src/fs/spool.js'

describe('Spool', () => {
  // Under the project, like ~/.cache/fichfs: outside the system temp dir.
  const root = mkdtempSync(join(process.cwd(), '.vitest-tmp-spool-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('creates private spool files outside the temp dir, and reads back what was written', async () => {
    const spool = new Spool(join(root, 'spool'))
    const path = spool.create()
    expect(path.startsWith(join(root, 'spool'))).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    spool.acquire(path)
    await spool.write(path, Buffer.from('hello'), 3)
    expect(spool.size(path)).toBe(8)
    expect((await spool.read(path, 3, 100)).toString()).toBe('hello')
    await spool.truncate(path, 4)
    expect((await spool.read(path, 0, 100)).length).toBe(4)
    await spool.release(path)
    await spool.remove(path)
  })
})

describe('Spool: Whirlpool while writing (spool-hash.ts)', () => {
  const root = mkdtempSync(join(process.cwd(), '.vitest-tmp-spoolhash-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const MIB = 1 << 20

  async function written(spool: Spool, chunks: Array<[position: number, data: Buffer]>, concurrently = false): Promise<string> {
    const path = spool.create()
    spool.acquire(path)
    if (concurrently) await Promise.all(chunks.map(([position, data]) => spool.write(path, data, position)))
    else for (const [position, data] of chunks) await spool.write(path, data, position)
    return path
  }

  it('gives the digest of a big file written in order, or out of order without overlaps, as the file hashes', async () => {
    const spool = new Spool(join(root, 'a'))
    const data = randomBytes(9 * MIB + 12345)
    const parts = Array.from({ length: Math.ceil(data.length / (128 << 10)) }, (_, i): [number, Buffer] => [i * (128 << 10), data.subarray(i * (128 << 10), (i + 1) * (128 << 10))])
    const inOrder = await written(spool, parts)
    const expected = await whirlpoolOfFile(inOrder)
    expect(await spool.whirlpool(inOrder, data.length)).toBe(expected)
    // Neighbours swapped, several under way at once: the same bytes, the same digest.
    const shuffled = parts.map((_, i) => parts[i % 2 === 0 ? Math.min(i + 1, parts.length - 1) : i - 1] as [number, Buffer])
    const unique = [...new Map(shuffled.map((part) => [part[0], part])).values()]
    expect(unique.length).toBe(parts.length)
    const outOfOrder = await written(spool, unique, true)
    expect(await spool.whirlpool(outOfOrder, data.length)).toBe(expected)
    // Another size than what was written: no digest from here (the upload hashes the file).
    expect(spool.whirlpool(inOrder, data.length - 1)).toBeUndefined()
    for (const path of [inOrder, outOfOrder]) {
      await spool.release(path)
      await spool.remove(path)
    }
  })

  it('gives up on a write over written bytes, a hole, or a truncate, and starts over after a truncate to zero', async () => {
    const spool = new Spool(join(root, 'b'))
    const data = randomBytes(9 * MIB)
    const overwritten = await written(spool, [[0, data], [100, Buffer.from('changed')]])
    expect(spool.whirlpool(overwritten, data.length)).toBeUndefined()
    const holed = await written(spool, [[0, data.subarray(0, MIB)], [2 * MIB, data.subarray(2 * MIB)]])
    expect(spool.whirlpool(holed, data.length)).toBeUndefined()
    const cut = await written(spool, [[0, data]])
    await spool.truncate(cut, MIB)
    expect(spool.whirlpool(cut, MIB)).toBeUndefined()
    await spool.truncate(cut, 0)
    await spool.write(cut, data, 0)
    expect(await spool.whirlpool(cut, data.length)).toBe(await whirlpoolOfFile(cut))
    for (const path of [overwritten, holed, cut]) {
      await spool.release(path)
      await spool.remove(path)
    }
  })

  it('starts no hashing thread for a small file (the upload hashes it inline)', async () => {
    const spool = new Spool(join(root, 'c'))
    const small = await written(spool, [[0, randomBytes(1000)]])
    expect(spool.whirlpool(small, 1000)).toBeUndefined()
    await spool.release(small)
    await spool.remove(small)
  })
})
