/**
 * The filesystem core without a kernel: FichierFs over the real client and the emulator.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlockCache } from '../../src/cache/block-cache.js'
import { decorateDuplicate, MetadataStore } from '../../src/cache/metadata-store.js'
import type { FichierClient } from '../../src/client/fichier-client.js'
import { API_PATHS } from '../../src/client/wire.js'
import { FichierApiError } from '../../src/client/errors.js'
import { FsError, toErrno } from '../../src/fs/errors.js'
import { FichierFs, type FsRemote } from '../../src/fs/fichier-fs.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { captureLog, testClient } from '../support/client.js'
import { source, stopFsCore } from '../support/fs-core.js'
import { tempDir } from '../support/mount.js'

const O_WRONLY = 1
const O_RDWR = 2
const O_TRUNC = 0o1000
/** A folder's entries without `.` and `..` (readdir lists them first, as on every Linux filesystem). */
const children = async (fs: FichierFs, path: string) => (await fs.readdir(path)).names.filter((name) => name !== '.' && name !== '..')

describe('FichierFs core (no kernel)', () => {
  let t: TestEmulator
  let client: FichierClient
  let dir: string
  let store: MetadataStore
  let fs: FichierFs

  function makeFs(remote: FsRemote = client, options: { readOnly?: boolean; maxAttempts?: number } = {}): FichierFs {
    return new FichierFs(remote, store, new BlockCache({ blockSize: 1 << 20, memoryBytes: 16 << 20 }), {
      readOnly: options.readOnly ?? false,
      dirCacheTimeMs: 60_000,
      quotaCacheTimeMs: 60_000,
      uid: 0,
      gid: 0,
      fileMode: 0o644,
      dirMode: 0o755,
      spoolDir: join(dir, 'spool'),
      uploader: { writeBackDelayMs: 20, retryBaseMs: 10, ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) },
    })
  }

  beforeEach(async () => {
    t = await startTestEmulator()
    client = testClient(t.emu)
    dir = await tempDir('core')
    store = new MetadataStore(join(dir, 'metadata.sqlite'))
    fs = makeFs()
  })

  afterEach(() => stopFsCore({ fs, store, client, t, dir }))

  it('shows two remote files of the same name under distinct, stable names', async () => {
    const folder = await client.mkdir(0, 'dups')
    const first = (await client.upload(folder.id, [source('same.txt', 'first')])).uploaded[0]?.url as string
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const second = (await client.upload(folder.id, [source('same.txt', 'second')])).uploaded[0]?.url as string
    const secondId = second.split('?')[1]
    const names = (await children(fs, '/dups')).sort()
    expect(names).toEqual(['same (' + secondId + ').txt', 'same.txt'].sort())
    // The oldest keeps the plain name; the rule survives a fresh listing.
    const read = async (path: string) => {
      const fh = await fs.open(path, 0)
      try {
        return (await fs.read(fh, 100, 0)).toString()
      } finally {
        await fs.release(fh)
      }
    }
    expect(await read('/dups/same.txt')).toBe('first')
    expect(await read(`/dups/same (${secondId}).txt`)).toBe('second')
    fs.namespace.invalidate(folder.id)
    expect((await children(fs, '/dups')).sort()).toEqual(names)
    expect(first).not.toBe(second)
  })

  it('turns 1fichier upload dates (Paris time) into the right mtimes', async () => {
    const before = Date.now()
    await client.upload(0, [source('dated.txt', 'x')])
    const attr = await fs.getattr('/dated.txt')
    // A time zone mistake would be off by one or two hours.
    expect(Math.abs(attr.mtime - before)).toBeLessThan(5_000)
  })

  it('falls back to file/ls when folder/ls ignores files:1 (the files come from it, once per listing)', async () => {
    await client.upload(0, [source('listed.txt', 'x')])
    let fileLsCalls = 0
    const withoutItems: FsRemote = Object.create(client, {
      listFolder: { value: async (id: number) => ({ ...(await client.listFolder(id)), files: undefined }) },
      listFiles: { value: async (id: number) => { fileLsCalls++; return client.listFiles(id) } },
    })
    const other = makeFs(withoutItems)
    try {
      expect(await children(other, '/')).toContain('listed.txt')
      expect(fileLsCalls).toBe(1)
    } finally {
      await other.shutdown({ wait: false })
    }
  })

  it('serves a file being written from its local copy, then uploads it once closed', async () => {
    const fh = await fs.create('/new.txt', 0o640)
    await fs.write(fh, Buffer.from('hello '), 0)
    await fs.write(fh, Buffer.from('world'), 6)
    expect((await fs.getattr('/new.txt')).size).toBe(11)
    const reader = await fs.open('/new.txt', 0)
    expect((await fs.read(reader, 100, 0)).toString()).toBe('hello world')
    await fs.release(reader)
    await fs.release(fh)
    await fs.uploader.drain()
    expect(t.emu.tree().find((entry) => entry.path === '/new.txt')?.size).toBe(11)
    expect((await fs.getattr('/new.txt')).mode & 0o7777).toBe(0o640)
  })

  it('after a crash mid-upload, a copy that arrived is adopted; one with other bytes is not', async () => {
    // What a killed daemon leaves: journal rows still marked "uploading". arrived.txt reached
    // 1fichier before the crash; the other.txt there has the same name and size, other bytes.
    // /crash was listed by this run (after the crash: that listing is used); /older only by
    // an earlier one (it is listed again).
    const spoolDir = join(dir, 'spool')
    mkdirSync(spoolDir, { recursive: true })
    const arrivedUrls: string[] = []
    const crash = await client.mkdir(0, 'crash')
    const older = await client.mkdir(0, 'older')
    for (const [name, folder] of [['crash', crash], ['older', older]] as const) {
      arrivedUrls.push((await client.upload(folder.id, [source('arrived.txt', 'the same bytes')])).uploaded[0]?.url as string)
      await client.upload(folder.id, [source('other.txt', 'AAAA')])
      await fs.readdir(`/${name}`)
      if (name === 'older') store.markListed(folder.id, Date.now() - 3600_000)
      for (const [file, data] of [['arrived.txt', 'the same bytes'], ['other.txt', 'BBBB']] as const) {
        const spoolPath = join(spoolDir, `${name}-${file}.data`)
        writeFileSync(spoolPath, data)
        store.addLocalFile({ folderId: folder.id, name: file, spoolPath, size: data.length, mtime: Date.now(), mode: null, state: 'uploading', replacesUrl: null, readyAt: null, createdAt: Date.now() })
      }
    }
    const before = { ...t.emu.stats().calls }
    const delta = (path: string) => (t.emu.stats().calls[path] ?? 0) - (before[path] ?? 0)
    expect(fs.start()).toBe(4)
    await fs.uploader.drain()
    expect(store.allLocalFiles()).toEqual([])
    // Only the two other.txt went up again; only /older was listed for it.
    expect(delta(API_PATHS.getUploadServer)).toBe(2)
    expect(delta(API_PATHS.folderLs)).toBe(1)
    for (const [index, name] of ['crash', 'older'].entries()) {
      const stored = t.emu.tree().filter((entry) => entry.path.startsWith(`/${name}/`)).map((entry) => entry.path).sort()
      expect(stored).toEqual([`/${name}/arrived.txt`, `/${name}/other.txt`, `/${name}/other.txt`])
      const fh = await fs.open(`/${name}/arrived.txt`, 0)
      expect((await fs.read(fh, 100, 0)).toString()).toBe('the same bytes')
      await fs.release(fh)
      expect(store.fileByDisplayName((await fs.namespace.resolveFolder(`/${name}`)).id, 'arrived.txt')?.url).toBe(arrivedUrls[index])
    }
  })

  it('a file whose upload answer was lost is found by a listing and adopted, not sent a second time', async () => {
    await fs.readdir('/')
    t.emu.setFaults({ lostAnswerRate: 1 })
    const before = { ...t.emu.stats().calls }
    const delta = (path: string) => (t.emu.stats().calls[path] ?? 0) - (before[path] ?? 0)
    const fh = await fs.create('/lost.txt', 0o644)
    await fs.write(fh, Buffer.from('stored, but nobody was told'), 0)
    await fs.release(fh)
    // The node stored it and cut the connection instead of answering.
    for (let waited = 0; t.emu.stats().faultsInjected.lostAnswer === 0; waited += 10) {
      if (waited > 10_000) throw new Error('the upload never reached the node')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.emu.setFaults({ lostAnswerRate: 0 })
    await fs.uploader.drain()
    expect(store.allLocalFiles()).toEqual([])
    expect(t.emu.tree().filter((entry) => entry.path === '/lost.txt')).toHaveLength(1)
    // One upload; the retry was a listing of / that found the copy (its Whirlpool matched).
    expect(delta(API_PATHS.getUploadServer)).toBe(1)
    expect(delta(API_PATHS.folderLs)).toBe(1)
    const reader = await fs.open('/lost.txt', 0)
    expect((await fs.read(reader, 100, 0)).toString()).toBe('stored, but nobody was told')
    await fs.release(reader)
  })

  it('a rename onto its own name costs no call (1fichier would refuse it with #312)', async () => {
    await client.upload(0, [source('same.txt', 'x')])
    await fs.readdir('/')
    const before = t.emu.stats().apiCalls
    await fs.rename('/same.txt', '/same.txt')
    expect(t.emu.stats().apiCalls).toBe(before)
    expect(await children(fs, '/')).toEqual(['same.txt'])
  })

  it('a rename onto an existing file replaces it (POSIX)', async () => {
    await client.upload(0, [source('a.txt', 'AAA'), source('b.txt', 'BBBB')])
    await fs.rename('/a.txt', '/b.txt')
    expect((await children(fs, '/')).sort()).toEqual(['b.txt'])
    expect((await fs.getattr('/b.txt')).size).toBe(3)
    expect(t.emu.tree().filter((entry) => entry.type === 'file').map((entry) => entry.path)).toEqual(['/b.txt'])
  })

  it('O_TRUNC over a remote file: new content replaces it after upload, never both', async () => {
    await client.upload(0, [source('v.txt', 'version one')])
    const fh = await fs.open('/v.txt', O_WRONLY | O_TRUNC)
    await fs.write(fh, Buffer.from('two'), 0)
    expect(await children(fs, '/')).toEqual(['v.txt'])
    await fs.release(fh)
    await fs.uploader.drain()
    const stored = t.emu.tree().filter((entry) => entry.type === 'file')
    expect(stored.map((entry) => [entry.path, entry.size])).toEqual([['/v.txt', 3]])
  })

  it('an overwrite whose upload fails for good keeps the old version on 1fichier and the new one local', async () => {
    await client.upload(0, [source('keep.txt', 'version one')])
    const uploadDown: FsRemote = Object.assign(Object.create(client) as FichierClient, {
      upload: async () => {
        throw new FichierApiError('FICHFS_HTTP', 'upload node down', { endpoint: 'upload', httpStatus: 503 })
      },
    })
    await fs.shutdown({ wait: false })
    fs = makeFs(uploadDown, { maxAttempts: 2 })
    const fh = await fs.open('/keep.txt', O_WRONLY | O_TRUNC)
    await fs.write(fh, Buffer.from('two'), 0)
    await fs.release(fh)
    const status = await fs.uploader.drain()
    expect(status).toMatchObject({ pending: 0, failed: 1 })
    expect(status.failures[0]?.path).toBe('/keep.txt')
    // 1fichier still has the old version, once; the mount shows the new one, from its local copy.
    const stored = t.emu.tree().filter((entry) => entry.path === '/keep.txt')
    expect(stored.map((entry) => entry.size)).toEqual([11])
    expect(await children(fs, '/')).toEqual(['keep.txt'])
    const check = await fs.open('/keep.txt', 0)
    expect((await fs.read(check, 100, 0)).toString()).toBe('two')
    await fs.release(check)
  })

  it('replaced versions are deleted 100 per call, and one already gone does not stay queued', async () => {
    const sources = Array.from({ length: 150 }, (_, i) => source(`old-${i}.txt`, `v${i}`))
    const { uploaded } = await client.upload(0, sources)
    expect(uploaded).toHaveLength(150)
    for (const file of uploaded) store.addPendingRemoval(file.url, 'replaced')
    const before = t.emu.stats().calls[API_PATHS.fileRm] ?? 0
    await fs.uploader.removePending()
    expect(store.pendingRemovals()).toEqual([])
    expect((t.emu.stats().calls[API_PATHS.fileRm] ?? 0) - before).toBe(2)
    expect(t.emu.tree().filter((entry) => entry.type === 'file')).toEqual([])
    // Already deleted (by another client): 1fichier says not found; nothing is left to retry.
    store.addPendingRemoval(uploaded[0]?.url as string, 'replaced')
    await fs.uploader.removePending()
    expect(store.pendingRemovals()).toEqual([])
    expect(fs.uploader.status().deletesPending).toBe(0)
  })

  it('editing a remote file in place starts from its content', async () => {
    await client.upload(0, [source('edit.txt', 'abcdef')])
    const fh = await fs.open('/edit.txt', O_RDWR)
    await fs.write(fh, Buffer.from('XY'), 2)
    await fs.release(fh)
    await fs.uploader.drain()
    const check = await fs.open('/edit.txt', 0)
    expect((await fs.read(check, 100, 0)).toString()).toBe('abXYef')
    await fs.release(check)
  })

  it('refuses changes when mounted read-only, without API calls', async () => {
    await client.upload(0, [source('ro.txt', 'x')])
    const ro = makeFs(client, { readOnly: true })
    try {
      await ro.readdir('/')
      const before = t.emu.stats().apiCalls
      await expect(ro.create('/x', 0o644)).rejects.toMatchObject({ errno: 'EROFS' })
      await expect(ro.open('/ro.txt', O_WRONLY)).rejects.toMatchObject({ errno: 'EROFS' })
      await expect(ro.mkdir('/d', 0o755)).rejects.toMatchObject({ errno: 'EROFS' })
      await expect(ro.unlink('/ro.txt')).rejects.toMatchObject({ errno: 'EROFS' })
      await expect(ro.rename('/ro.txt', '/y')).rejects.toMatchObject({ errno: 'EROFS' })
      expect(t.emu.stats().apiCalls).toBe(before)
    } finally {
      await ro.shutdown({ wait: false })
    }
  })
})

describe('errors become errnos in one place', () => {
  it('keeps the errno chosen where the failure was understood, and turns the unknown into a logged EIO', () => {
    const log = captureLog()
    expect(toErrno(new FsError('ENOTEMPTY', 'not empty'), 'rmdir', '/d', log.logger)).toBe(39)
    expect(toErrno(new FsError('ENOENT', 'missing'), 'getattr', '/x', log.logger)).toBe(2)
    expect(log.text()).not.toContain('unexpected failure')
    expect(toErrno(new TypeError('boom'), 'read', '/f', log.logger)).toBe(5)
    expect(log.text()).toContain('unexpected failure')
    expect(log.text()).toContain('boom')
  })
})

describe('duplicate names', () => {
  it('stay within 255 bytes once decorated, so that the kernel can look them up', () => {
    // 124 two-byte characters + "x.txt": 253 bytes, a name 1fichier takes.
    const long = `${'é'.repeat(124)}x.txt`
    const decorated = decorateDuplicate(long, 'abcdefghij')
    expect(Buffer.byteLength(decorated)).toBeLessThanOrEqual(255)
    expect(decorated.startsWith('éééé')).toBe(true)
    expect(decorated.endsWith(' (abcdefghij).txt')).toBe(true)
    expect(decorateDuplicate('a.txt', 'abcdefghij')).toBe('a (abcdefghij).txt')
    expect(decorateDuplicate('README', 'abcdefghij')).toBe('README (abcdefghij)')
  })
})
