/**
 * The trash in the filesystem core, without a kernel: what deletions, overwrites, restores and
 * the desktop's `.Trash-<uid>` view do on the account, and what each costs in API calls.
 */
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlockCache } from '../../src/cache/block-cache.js'
import { MetadataStore } from '../../src/cache/metadata-store.js'
import type { FichierClient } from '../../src/client/fichier-client.js'
import { FichierFs } from '../../src/fs/fichier-fs.js'
import { escapeTrashPath, TRASH_FOLDER_NAME } from '../../src/fs/trash.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { callMeter } from '../support/checks.js'
import { testClient } from '../support/client.js'
import { source, stopFsCore } from '../support/fs-core.js'
import { tempDir } from '../support/mount.js'

const O_WRONLY = 1
const O_CREAT_EXCL = 0o300
const O_TRUNC = 0o1000
const TRASH = `/${TRASH_FOLDER_NAME}`


/** A folder's entries without `.` and `..` (readdir lists them first, as every Linux filesystem does). */
const children = async (fs: FichierFs, path: string) => (await fs.readdir(path)).names.filter((name) => name !== '.' && name !== '..')

describe('the trash (core)', () => {
  let t: TestEmulator
  let client: FichierClient
  let dir: string
  let store: MetadataStore
  let fs: FichierFs

  function makeFs(retentionMs = 0, writeBackDelayMs = 20): FichierFs {
    return new FichierFs(client, store, new BlockCache({ blockSize: 1 << 20, memoryBytes: 16 << 20 }), {
      readOnly: false, dirCacheTimeMs: 60_000, quotaCacheTimeMs: 60_000, uid: 1000, gid: 1000, fileMode: 0o644, dirMode: 0o755,
      spoolDir: join(dir, 'spool'), uploader: { writeBackDelayMs, retryBaseMs: 10 },
      trash: { retentionMs }, deleteBatchDelayMs: 50,
    })
  }
  const { mark, spent } = callMeter(() => t.emu)
  const stored = (prefix: string) => t.emu.tree().filter((entry) => entry.path.startsWith(prefix)).map((entry) => entry.path).sort()
  const readAll = async (path: string) => {
    const fh = await fs.open(path, 0)
    try {
      return (await fs.read(fh, 1 << 20, 0)).toString()
    } finally {
      await fs.release(fh)
    }
  }
  const writeFile = async (path: string, data: string, flags?: number) => {
    const fh = flags === undefined ? await fs.create(path, 0o644) : await fs.open(path, flags)
    await fs.write(fh, Buffer.from(data), 0)
    await fs.release(fh)
  }

  beforeEach(async () => {
    t = await startTestEmulator()
    client = testClient(t.emu)
    dir = await tempDir('trash-core')
    store = new MetadataStore(join(dir, 'metadata.sqlite'))
    fs = makeFs()
    mark()
  })

  afterEach(() => stopFsCore({ fs, store, client, t, dir }))

  it('unlink moves the file into the trash folder: one folder/mkdir the first time, then one file/mv each', async () => {
    await client.upload(0, [source('a.txt', 'AAA'), source('b.txt', 'BB')])
    await fs.readdir('/')
    mark()
    await fs.unlink('/a.txt')
    expect(spent()).toEqual({ 'folder/mkdir.cgi': 1, 'file/mv.cgi': 1 })
    mark()
    await fs.unlink('/b.txt')
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(stored('/')).toEqual([TRASH, `${TRASH}/a.txt`, `${TRASH}/b.txt`])
    // Nothing of the trash shows in the mount's folders, nor after a fresh listing.
    expect((await children(fs, '/'))).toEqual([])
    fs.namespace.invalidate(0)
    expect((await children(fs, '/'))).toEqual([])
    await expect(fs.getattr(TRASH)).rejects.toMatchObject({ errno: 'ENOENT' })
    await expect(fs.mkdir(TRASH, 0o755)).rejects.toMatchObject({ errno: 'EPERM' })
    expect(fs.trash?.entries().map((row) => [row.path, row.reason, row.state])).toEqual([['/a.txt', 'rm', 'trashed'], ['/b.txt', 'rm', 'trashed']])
  })

  it('rm -r then restore: every file back in place, folders brought back, files moved back in batches', async () => {
    const top = await client.mkdir(0, 'tree')
    const sub = await client.mkdir(top.id, 'sub')
    await client.upload(top.id, [source('1.txt', 'one'), source('2.txt', 'two')])
    await client.upload(sub.id, [source('3.txt', 'three')])
    // rm -r: unlink every file, rmdir every folder, deepest first.
    for (const path of ['/tree/sub/3.txt', '/tree/1.txt', '/tree/2.txt']) await fs.unlink(path)
    await fs.rmdir('/tree/sub')
    await fs.rmdir('/tree')
    expect((await children(fs, '/'))).toEqual([])
    expect(stored('/tree')).toEqual([])
    mark()
    const restored = await fs.trash?.restore(fs.trash.select('/tree'), { rename: false })
    expect(restored?.map((entry) => entry.path).sort()).toEqual(['/tree', '/tree/1.txt', '/tree/2.txt', '/tree/sub', '/tree/sub/3.txt'])
    // One folder/mv per folder; one file/mv per folder the files go back into.
    expect(spent()).toEqual({ 'folder/mv.cgi': 2, 'file/mv.cgi': 2 })
    expect(await readAll('/tree/sub/3.txt')).toBe('three')
    expect(await readAll('/tree/1.txt')).toBe('one')
    expect(stored('/tree')).toEqual(['/tree', '/tree/1.txt', '/tree/2.txt', '/tree/sub', '/tree/sub/3.txt'])
    expect(stored(TRASH)).toEqual([TRASH])
    expect(fs.trash?.entries()).toEqual([])
  })

  it('a folder whose name is taken in the trash gets a unique name there, and its own back on restore', async () => {
    await fs.mkdir('/tmp', 0o755)
    await fs.rmdir('/tmp')
    await fs.mkdir('/tmp', 0o755)
    mark()
    await fs.rmdir('/tmp')
    expect(spent()).toEqual({ 'folder/mv.cgi': 1 })
    expect(stored(TRASH).length).toBe(3)
    const entries = fs.trash?.entries() ?? []
    expect(entries.map((row) => row.viewName)).toEqual(['tmp', 'tmp.2'])
    await fs.trash?.restore(fs.trash.select('/tmp'), { rename: false })
    expect((await children(fs, '/'))).toEqual(['tmp'])
    // The later one came back; the other is still there.
    expect(fs.trash?.entries().map((row) => row.id)).toEqual([entries[0]?.id])
  })

  it('an overwrite puts the old version in the trash; a restore onto the new one is refused unless renamed', async () => {
    await writeFile('/doc.txt', 'version one')
    await fs.uploader.drain()
    mark()
    await writeFile('/doc.txt', 'version two', O_WRONLY | O_TRUNC)
    await fs.uploader.drain()
    expect(spent()['file/rm.cgi']).toBeUndefined()
    expect(spent()['file/mv.cgi']).toBe(1)
    expect(await readAll('/doc.txt')).toBe('version two')
    const rows = fs.trash?.select('/doc.txt') ?? []
    expect(rows.map((row) => [row.reason, row.state])).toEqual([['overwritten', 'trashed']])
    mark()
    await expect(fs.trash?.restore(rows, { rename: false })).rejects.toMatchObject({ code: 'FICHFS_TRASH_CLASH' })
    expect(spent()).toEqual({})
    const restored = await fs.trash?.restore(rows, { rename: true })
    expect(restored?.map((entry) => entry.path)).toEqual(['/doc (restored).txt'])
    expect(await readAll('/doc (restored).txt')).toBe('version one')
    expect(await readAll('/doc.txt')).toBe('version two')
  })

  it('the versions one upload batch replaced go to the trash 100 per file/mv call', async () => {
    // A write-back delay long enough for the 150 closes to make one upload batch, even on a busy machine.
    await fs.shutdown({ wait: false })
    fs = makeFs(0, 1000)
    const names = Array.from({ length: 150 }, (_, i) => `f${i}.txt`)
    await client.upload(0, names.map((name) => source(name, 'old')))
    await fs.readdir('/')
    await fs.trash?.ensureFolder()
    for (const name of names) await writeFile(`/${name}`, 'new!', O_WRONLY | O_TRUNC)
    mark()
    await fs.uploader.drain()
    expect(t.emu.stats().upload.requests).toBe(2)
    expect(spent()['file/mv.cgi']).toBe(2)
    expect(stored(TRASH).length).toBe(151)
    expect(fs.uploader.status().deletesPending).toBe(0)
  })

  it('versions queued for the trash when the daemon died are moved by the next start', async () => {
    await client.upload(0, [source('q.txt', 'queued')])
    await fs.readdir('/')
    await fs.trash?.ensureFolder()
    // What a crash leaves: the entry journaled as 'moving', the file still in its folder.
    fs.trash?.queueFile(store.fileByDisplayName(0, 'q.txt') as NonNullable<ReturnType<typeof store.fileByDisplayName>>, 'overwritten')
    await fs.shutdown({ wait: false })
    expect(fs.uploader.status().deletesPending).toBe(1)
    fs = makeFs()
    mark()
    fs.start()
    for (let i = 0; i < 100 && fs.uploader.status().deletesPending > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(stored(TRASH)).toEqual([TRASH, `${TRASH}/q.txt`])
    expect(fs.trash?.entries().map((row) => row.state)).toEqual(['trashed'])
  })

  it('a version another machine already moved into the trash counts as moved (1fichier answers #312)', async () => {
    await client.upload(0, [source('shared.txt', 'both machines had it')])
    await fs.readdir('/')
    const trashId = await fs.trash?.ensureFolder() as number
    const row = store.fileByDisplayName(0, 'shared.txt') as NonNullable<ReturnType<typeof store.fileByDisplayName>>
    // The other machine's fichfs replaced the same version first: it is in the trash folder.
    await client.moveFile(row.url, trashId)
    fs.trash?.queueFile(row, 'overwritten')
    mark()
    await fs.uploader.removePending()
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(fs.uploader.status().deletesPending).toBe(0)
    expect(fs.trash?.entries().map((entry) => entry.state)).toEqual(['trashed'])
    expect(stored(TRASH)).toEqual([TRASH, `${TRASH}/shared.txt`])
  })

  it('empty deletes for good, 100 per file/rm; --older-than keeps the recent ones', async () => {
    await client.upload(0, Array.from({ length: 120 }, (_, i) => source(`e${i}.txt`, 'x')))
    await fs.readdir('/')
    for (let i = 0; i < 120; i++) await fs.unlink(`/e${i}.txt`)
    const trash = fs.trash as NonNullable<typeof fs.trash>
    mark()
    expect(await trash.empty({ olderThanMs: 60_000 })).toEqual({ files: 0, folders: 0, bytes: 0 })
    expect(spent()).toEqual({})
    expect(await trash.empty()).toEqual({ files: 120, folders: 0, bytes: 120 })
    expect(spent()).toEqual({ 'file/rm.cgi': 2 })
    expect(stored('/')).toEqual([TRASH])
  })

  it('emptying a folder that went to the trash whole lists it and deletes what it holds first', async () => {
    const box = await client.mkdir(0, 'box')
    const inner = await client.mkdir(box.id, 'inner')
    await client.upload(inner.id, [source('deep.txt', 'deep')])
    await client.upload(box.id, [source('top.txt', 'top')])
    await fs.readdir('/')
    // A desktop Delete of the whole folder.
    await fs.rename('/box', '/.Trash-1000/files/box')
    mark()
    await fs.trash?.empty()
    expect(spent()).toEqual({ 'folder/ls.cgi': 2, 'file/rm.cgi': 2, 'folder/rm.cgi': 2 })
    expect(stored('/')).toEqual([TRASH])
  })

  it('the mount empties what is older than the retention time by itself', async () => {
    await fs.shutdown({ wait: false })
    fs = makeFs(300)
    await client.upload(0, [source('old.txt', 'x')])
    await fs.readdir('/')
    await fs.unlink('/old.txt')
    fs.start()
    for (let i = 0; i < 100 && (fs.trash?.entries().length ?? 0) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(fs.trash?.entries()).toEqual([])
    expect(stored('/')).toEqual([TRASH])
  })

  describe('.Trash-<uid>, as GLib and gvfsd-trash use it', () => {
    /** g_file_trash on a mount that is not the home (gio/glocalfile.c), step by step. */
    async function gioTrash(path: string): Promise<string> {
      const name = path.split('/').pop() as string
      await expect(fs.getattr('/.Trash')).rejects.toMatchObject({ errno: 'ENOENT' })
      const top = await fs.getattr('/.Trash-1000')
      expect(top.mode).toBe(0o40700)
      expect(top.uid).toBe(1000)
      await expect(fs.mkdir('/.Trash-1000/info', 0o700)).rejects.toMatchObject({ errno: 'EEXIST' })
      await expect(fs.mkdir('/.Trash-1000/files', 0o700)).rejects.toMatchObject({ errno: 'EEXIST' })
      // get_unique_filename: NAME, then NAME with .2, .3, ... before its first dot.
      let trashName = name
      const dot = name.indexOf('.')
      for (let n = 2; ; n++) {
        try {
          await fs.getattr(`/.Trash-1000/info/${trashName}.trashinfo`)
        } catch {
          break
        }
        trashName = dot >= 0 ? `${name.slice(0, dot)}.${n}${name.slice(dot)}` : `${name}.${n}`
      }
      const info = `/.Trash-1000/info/${trashName}.trashinfo`
      await fs.release(await fs.create(info, O_CREAT_EXCL))
      // g_file_set_contents: a temporary file beside it, renamed over it.
      const temp = `${info}.AB12CD`
      const fh = await fs.create(temp, 0o666)
      const text = `[Trash Info]\nPath=${escapeTrashPath(path.slice(1))}\nDeletionDate=2026-01-02T03:04:05\n`
      await fs.write(fh, Buffer.from(text), 0)
      await fs.release(fh)
      await fs.rename(temp, info)
      await fs.rename(path, `/.Trash-1000/files/${trashName}`)
      return trashName
    }

    it('a desktop Delete costs one file/mv; the info stays on this machine; renaming out restores', async () => {
      await client.upload(0, [source('photo é.jpg', 'JPEG')])
      await fs.readdir('/')
      await fs.trash?.ensureFolder()
      mark()
      const name = await gioTrash('/photo é.jpg')
      expect(spent()).toEqual({ 'file/mv.cgi': 1 })
      expect((await children(fs, '/'))).toEqual([])
      expect((await children(fs, '/.Trash-1000/files'))).toEqual([name])
      expect((await children(fs, '/.Trash-1000/info'))).toEqual([`${name}.trashinfo`])
      expect(await readAll(`/.Trash-1000/files/${name}`)).toBe('JPEG')
      expect(await readAll(`/.Trash-1000/info/${name}.trashinfo`)).toBe('[Trash Info]\nPath=photo%20%C3%A9.jpg\nDeletionDate=2026-01-02T03:04:05\n')
      expect(fs.trash?.entries().map((row) => [row.path, row.reason])).toEqual([['/photo é.jpg', 'desktop']])
      // A second file of that name gets the next name, as GLib picks it.
      await client.upload(0, [source('photo é.jpg', 'JPEG 2')])
      fs.namespace.invalidate(0)
      expect(await gioTrash('/photo é.jpg')).toBe('photo é.2.jpg')
      // Restore (what a desktop's Restore does): rename back.
      mark()
      await fs.rename(`/.Trash-1000/files/${name}`, '/photo é.jpg')
      expect(spent()).toEqual({ 'file/mv.cgi': 1 })
      expect(await readAll('/photo é.jpg')).toBe('JPEG')
      expect((await children(fs, '/.Trash-1000/files'))).toEqual(['photo é.2.jpg'])
      // Only the two uploads of this test: no .trashinfo ever went up.
      expect(t.emu.stats().upload.requests).toBe(2)
    })

    it('rm, rmdir and overwrites show in files/ with an info fichfs writes; writing there is refused', async () => {
      await client.upload(0, [source('x.txt', 'x')])
      await fs.readdir('/')
      await fs.unlink('/x.txt')
      expect((await children(fs, '/.Trash-1000/files'))).toEqual(['x.txt'])
      const info = await readAll('/.Trash-1000/info/x.txt.trashinfo')
      expect(info).toMatch(/^\[Trash Info\]\nPath=x\.txt\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n$/)
      await expect(fs.create('/.Trash-1000/files/new.txt', 0o644)).rejects.toMatchObject({ errno: 'EPERM' })
      await expect(fs.open('/.Trash-1000/files/x.txt', O_WRONLY)).rejects.toMatchObject({ errno: 'EPERM' })
      await expect(fs.mkdir('/.Trash-1000/files/d', 0o755)).rejects.toMatchObject({ errno: 'EPERM' })
    })

    it('emptying as gvfsd-trash does: files/ to expunged/, then deletes, batched into one file/rm', async () => {
      await client.upload(0, Array.from({ length: 30 }, (_, i) => source(`p${i}.png`, 'PNG')))
      const folder = await client.mkdir(0, 'album')
      await client.upload(folder.id, [source('in-album.png', 'PNG')])
      await fs.readdir('/')
      for (let i = 0; i < 30; i++) await fs.unlink(`/p${i}.png`)
      await fs.rename('/album', '/.Trash-1000/files/album')
      mark()
      // trash_item_delete: rename into expunged/, unlink the info (gone with it already).
      await expect(fs.mkdir('/.Trash-1000/expunged', 0o700)).rejects.toMatchObject({ errno: 'EEXIST' })
      for (const [index, name] of (await children(fs, '/.Trash-1000/files')).entries()) {
        await fs.rename(`/.Trash-1000/files/${name}`, `/.Trash-1000/expunged/${1000 + index}`)
        await expect(fs.unlink(`/.Trash-1000/info/${name}.trashinfo`)).rejects.toMatchObject({ errno: 'ENOENT' })
      }
      expect((await children(fs, '/.Trash-1000/files'))).toEqual([])
      // trash_expunge: chmod 0700, then delete everything under expunged/, depth first.
      await fs.chmod('/.Trash-1000/expunged', 0o700)
      const expunge = async (path: string): Promise<void> => {
        const listing = await fs.readdir(path)
        for (const [index, name] of listing.names.entries()) {
          if (name === '.' || name === '..') continue
          const child = `${path}/${name}`
          const attr = listing.attrs[index]
          if (attr && (attr.mode & 0o170000) === 0o40000) {
            await expunge(child)
            await fs.rmdir(child)
          } else {
            await fs.unlink(child)
          }
        }
      }
      await expunge('/.Trash-1000/expunged')
      await fs.uploader.drain()
      expect(stored('/')).toEqual([TRASH])
      // The 30 files in one call (the folder's rmdir sent what waited: its file and the others).
      const calls = spent()
      expect(calls['folder/rm.cgi']).toBe(1)
      expect(calls['file/rm.cgi']).toBeLessThanOrEqual(2)
      expect(fs.trash?.entries()).toEqual([])
    })

    it('300 deletions from files/ in a row cost 3 file/rm calls', async () => {
      const names = Array.from({ length: 300 }, (_, i) => `n${i}.txt`)
      await client.upload(0, names.map((name) => source(name, 'n')))
      await fs.readdir('/')
      await fs.trash?.ensureFolder()
      for (const name of names) store.addTrashEntry({
        kind: 'file', url: store.fileByDisplayName(0, name)?.url as string, folderId: null, name, parentId: 0, path: `/${name}`, size: 1,
        deletedAt: Date.now(), reason: 'rm', state: 'moving', viewName: name, remoteName: null, info: null, expungeName: null, fileFields: null,
      })
      for (const name of names) store.deleteFile(store.fileByDisplayName(0, name)?.url as string)
      await fs.uploader.removePending()
      mark()
      for (const name of names) await fs.unlink(`/.Trash-1000/files/${name}`)
      await fs.uploader.drain()
      expect(spent()).toEqual({ 'file/rm.cgi': 3 })
      expect(stored('/')).toEqual([TRASH])
    })
  })
})
