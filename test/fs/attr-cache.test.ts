/**
 * FichierFs's attribute cache (cachedAttr, the FUSE adapter's promise-free getattr): a hit must
 * never outlive what it was computed from. Every change through the filesystem, a listing that
 * changed things, and a commit by another process on the same store must show at once.
 */
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlockCache } from '../../src/cache/block-cache.js'
import { MetadataStore } from '../../src/cache/metadata-store.js'
import type { FichierClient } from '../../src/client/fichier-client.js'
import { FichierFs } from '../../src/fs/fichier-fs.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { testClient } from '../support/client.js'
import { source, stopFsCore } from '../support/fs-core.js'
import { tempDir } from '../support/mount.js'

const O_WRONLY = 1
const O_TRUNC = 0o1000
const errnoOf = async (work: Promise<unknown>) => work.then(() => 'ok', (error: { errno?: string }) => error.errno)

describe('the attribute cache', () => {
  let t: TestEmulator
  let client: FichierClient
  let dir: string
  let store: MetadataStore
  let fs: FichierFs
  let folderId: number

  beforeEach(async () => {
    t = await startTestEmulator()
    client = testClient(t.emu)
    dir = await tempDir('attr-cache')
    store = new MetadataStore(join(dir, 'metadata.sqlite'))
    fs = new FichierFs(client, store, new BlockCache({ blockSize: 1 << 20, memoryBytes: 16 << 20 }), {
      readOnly: false, dirCacheTimeMs: 60_000, quotaCacheTimeMs: 60_000, uid: 0, gid: 0, fileMode: 0o644, dirMode: 0o755,
      spoolDir: join(dir, 'spool'), uploader: { writeBackDelayMs: 20, retryBaseMs: 10 },
    })
    folderId = (await client.mkdir(0, 'tree')).id
    await client.upload(folderId, Array.from({ length: 12 }, (_, i) => source(`f${i}.txt`, 'x'.repeat(i + 1))))
    // Warm: a listing, then a walk (the cache fills the folder after a few misses).
    await fs.readdir('/tree')
    for (let i = 0; i < 12; i++) await fs.getattr(`/tree/f${i}.txt`)
  })

  afterEach(() => stopFsCore({ fs, store, client, t, dir }))

  it('answers a walked folder from memory', async () => {
    for (let i = 0; i < 12; i++) expect(fs.cachedAttr(`/tree/f${i}.txt`)?.size).toBe(i + 1)
    await fs.getattr('/tree')
    expect(fs.cachedAttr('/tree')?.mode).toBe(0o40755)
  })

  it('forgets a file renamed or unlinked through the filesystem', async () => {
    await fs.rename('/tree/f1.txt', '/tree/g1.txt')
    expect(fs.cachedAttr('/tree/f1.txt')).toBeUndefined()
    expect(await errnoOf(fs.getattr('/tree/f1.txt'))).toBe('ENOENT')
    expect((await fs.getattr('/tree/g1.txt')).size).toBe(2)
    await fs.unlink('/tree/f2.txt')
    expect(await errnoOf(fs.getattr('/tree/f2.txt'))).toBe('ENOENT')
    await fs.rename('/tree', '/moved')
    expect(await errnoOf(fs.getattr('/tree/f3.txt'))).toBe('ENOENT')
    expect((await fs.getattr('/moved/f3.txt')).size).toBe(4)
  })

  it('lists a folder again after any change, its own or a listing\'s', async () => {
    const names = async () => (await fs.readdir('/tree')).names.filter((name) => name !== '.' && name !== '..').sort()
    expect(await names()).toHaveLength(12)
    await fs.rename('/tree/f8.txt', '/tree/h8.txt')
    expect(await names()).toContain('h8.txt')
    expect(await names()).not.toContain('f8.txt')
    const fh = await fs.create('/tree/local.txt', 0o644)
    await fs.write(fh, Buffer.from('abc'), 0)
    const listed = await fs.readdir('/tree')
    expect(listed.attrs[listed.names.indexOf('local.txt')]?.size).toBe(3)
    await fs.write(fh, Buffer.from('defg'), 3)
    const again = await fs.readdir('/tree')
    // A local file's size is live (never a cached listing).
    expect(again.attrs[again.names.indexOf('local.txt')]?.size).toBe(7)
    await fs.release(fh)
    await client.upload(folderId, [source('other.txt', 'z')])
    fs.namespace.invalidate(folderId)
    expect(await names()).toContain('other.txt')
    await fs.chmod('/tree/f9.txt', 0o600)
    const modes = await fs.readdir('/tree')
    expect(modes.attrs[modes.names.indexOf('f9.txt')]?.mode).toBe(0o100600)
  })

  it('shows chmod and utimens at once', async () => {
    await fs.chmod('/tree/f3.txt', 0o600)
    expect((await fs.getattr('/tree/f3.txt')).mode).toBe(0o100600)
    await fs.utimens('/tree/f3.txt', 1_500_000_000_000)
    expect((await fs.getattr('/tree/f3.txt')).mtime).toBe(1_500_000_000_000)
    await fs.chmod('/tree', 0o700)
    expect((await fs.getattr('/tree')).mode).toBe(0o40700)
  })

  it('shows a file created, written, overwritten and uploaded with its current size', async () => {
    const fh = await fs.create('/tree/new.txt', 0o644)
    expect((await fs.getattr('/tree/new.txt')).size).toBe(0)
    await fs.write(fh, Buffer.from('hello'), 0)
    expect((await fs.getattr('/tree/new.txt')).size).toBe(5)
    await fs.write(fh, Buffer.from(' world'), 5)
    expect((await fs.getattr('/tree/new.txt')).size).toBe(11)
    await fs.release(fh)
    // An overwrite of a cached remote file: the new size, before and after its upload.
    const over = await fs.open('/tree/f4.txt', O_WRONLY | O_TRUNC)
    expect((await fs.getattr('/tree/f4.txt')).size).toBe(0)
    await fs.write(over, Buffer.from('abc'), 0)
    expect((await fs.getattr('/tree/f4.txt')).size).toBe(3)
    await fs.release(over)
    await fs.uploader.drain()
    expect((await fs.getattr('/tree/new.txt')).size).toBe(11)
    expect((await fs.getattr('/tree/f4.txt')).size).toBe(3)
    for (let i = 0; i < 12; i++) await fs.getattr(`/tree/f${i}.txt`)
    expect((await fs.getattr('/tree/f4.txt')).size).toBe(3)
  })

  it('shows what a fresh listing changed (a file removed or added elsewhere)', async () => {
    const listing = await client.listFolder(folderId)
    const gone = listing.files?.find((file) => file.name === 'f5.txt')?.url as string
    await client.removeFiles([gone])
    await client.upload(folderId, [source('elsewhere.txt', 'abcdefg')])
    expect(fs.cachedAttr('/tree/f5.txt')?.size).toBe(6)
    // As when --dir-cache-time has passed: the next look-up lists the folder again.
    fs.namespace.invalidate(folderId)
    expect(await errnoOf(fs.getattr('/tree/f5.txt'))).toBe('ENOENT')
    expect((await fs.getattr('/tree/elsewhere.txt')).size).toBe(7)
  })

  it('expires with the listing it came from (--dir-cache-time)', async () => {
    const until = Date.now() + 60_000
    expect(fs.cachedAttr('/tree/f6.txt')).toBeDefined()
    const realNow = Date.now
    Date.now = () => until + 1000
    try {
      expect(fs.cachedAttr('/tree/f6.txt')).toBeUndefined()
    } finally {
      Date.now = realNow
    }
  })

  it('sees a commit by another process on the same store within a millisecond', async () => {
    const other = new MetadataStore(join(dir, 'metadata.sqlite'))
    try {
      const url = store.fileByDisplayName(folderId, 'f7.txt')?.url as string
      other.setAttrs(url, { mode: 0o640 })
      // Looked for once per millisecond.
      await new Promise((resolve) => setTimeout(resolve, 2))
      expect(fs.cachedAttr('/tree/f7.txt')).toBeUndefined()
      expect((await fs.getattr('/tree/f7.txt')).mode).toBe(0o100640)
    } finally {
      other.close()
    }
  })
})
