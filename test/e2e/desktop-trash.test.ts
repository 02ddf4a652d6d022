/**
 * A desktop's Delete on a real mount: `gio trash` (what GNOME's Delete key runs), `gio remove`,
 * the desktop's Restore, and emptying the trash, both as gvfsd-trash does it file by file and
 * through `gio trash --list/--restore/--empty` with the real gvfs trash daemon. Every step's
 * API calls are counted: `.Trash-<uid>` is a view of fichfs's trash, so nothing of it is made or
 * uploaded on 1fichier; only the moves and the deletions are calls.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { callMeter, expectNoFloods, TRASH_FOLDER, trashContent } from '../support/checks.js'
import { findGvfs, type Gvfs } from '../support/gvfs.js'
import { BIN, mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

const PHOTOS = 30
/** Runs of calls at the pace limit: time scale 2 keeps a margin over a loaded machine's jitter (see trash.test.ts). */
const SCALE = 2
const hasGio = (await sh('command -v gio')).code === 0
const gvfs = await findGvfs()

describe.skipIf(!hasGio)('the desktop trash on a mount (gio)', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  let trashDir: string
  const { mark, spent } = callMeter(() => emu)
  const uploads = () => emu.stats().upload.requests

  beforeAll(async () => {
    seed = await tempDir('desk-seed')
    const files: Record<string, number | string> = { 'Documents/report.txt': 'quarterly\n', 'Documents/draft.txt': 'draft\n', 'Pictures/Holidays/beach.jpg': 40_000 }
    for (let i = 1; i <= PHOTOS; i++) files[`Pictures/photo-${String(i).padStart(2, '0')}.jpg`] = 2_000 + i
    await writeTree(seed, { files })
    emu = await startEmulator({ dataDir: await tempDir('desk-emu'), seedDir: seed, timeScale: SCALE })
    cacheDir = await tempDir('desk-cache')
    mount = await mountFichfs(emu, { cacheDir, timeScale: SCALE })
    mnt = mount.mountpoint
    trashDir = `${mnt}/.Trash-${process.getuid?.() ?? 0}`
    await run(`ls -R ${mnt} > /dev/null`)
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  it('gio trash is one file/mv (and one folder/mkdir for the trash folder, once); nothing of .Trash-<uid> reaches 1fichier', async () => {
    const uploaded = uploads()
    mark()
    await run(`gio trash ${mnt}/Documents/draft.txt`)
    expect(spent()).toEqual({ 'folder/mkdir.cgi': 1, 'file/mv.cgi': 1 })
    mark()
    await run(`gio trash ${mnt}/Documents/report.txt`)
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    // A folder: one folder/mv, its content with it.
    mark()
    await run(`gio trash ${mnt}/Pictures/Holidays`)
    expect(spent()).toEqual({ 'folder/mv.cgi': 1 })
    expect(uploads()).toBe(uploaded)
    expect(emu.tree().filter((entry) => entry.path.includes('.Trash'))).toEqual([])
    expect(trashContent(emu)).toEqual({ files: ['Holidays/beach.jpg:40000', 'draft.txt:6', 'report.txt:10'], folders: ['Holidays'] })
    // The desktop's view: files/ and info/, GLib's info files as it wrote them.
    expect(await run(`ls ${trashDir}/files`)).toBe('Holidays\ndraft.txt\nreport.txt\n')
    expect(await run(`ls ${trashDir}/files/Holidays`)).toBe('beach.jpg\n')
    expect(await run(`ls ${trashDir}/info`)).toBe('Holidays.trashinfo\ndraft.txt.trashinfo\nreport.txt.trashinfo\n')
    expect(await readFile(`${trashDir}/info/draft.txt.trashinfo`, 'utf8')).toMatch(/^\[Trash Info\]\nPath=Documents\/draft\.txt\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n$/)
    // ...and fichfs's own list of the same trash.
    const listed = await run(`node ${BIN} trash list ${mnt} --time-scale ${SCALE}`, { env: { ...process.env, FICHFS_API_KEY: emu.apiKey } })
    expect(listed).toMatch(/desktop +\/Documents\/draft\.txt$/m)
    expect(listed).toMatch(/desktop +\/Pictures\/Holidays\/$/m)
    // Not shown among the mount's folders (ls -a, find), yet there for the desktop to find.
    expect(await run(`ls -A ${mnt}`)).toBe('Documents\nPictures\n')
    expect(await run(`stat -c '%a %U %F' ${trashDir}`)).toBe(`700 ${(await run('id -un')).trim()} directory\n`)
  })

  it('the desktop\'s Restore (a rename back) is one file/mv; gio trash again picks the next free name', async () => {
    mark()
    await run(`mv ${trashDir}/files/report.txt ${mnt}/Documents/report.txt`)
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(await readFile(join(mnt, 'Documents/report.txt'), 'utf8')).toBe('quarterly\n')
    expect(await run(`ls ${trashDir}/info`)).toBe('Holidays.trashinfo\ndraft.txt.trashinfo\n')
    // Two deleted files of one name: GLib's next name, draft.2.txt.
    await run(`echo 'draft two' > ${mnt}/Documents/draft.txt`)
    await waitForUploads(mount)
    await run(`gio trash ${mnt}/Documents/draft.txt`)
    expect(await run(`ls ${trashDir}/files`)).toBe('Holidays\ndraft.2.txt\ndraft.txt\n')
    expect(await readFile(`${trashDir}/files/draft.2.txt`, 'utf8')).toBe('draft two\n')
  })

  it('gio remove in the mount\'s folders goes to the trash too (undoable); in the trash it deletes for good', async () => {
    mark()
    await run(`gio remove ${mnt}/Documents/report.txt`)
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(await run(`ls ${trashDir}/files`)).toContain('report.txt\n')
    mark()
    await run(`gio remove ${trashDir}/files/report.txt`)
    await waitForUploads(mount)
    expect(spent()).toEqual({ 'file/rm.cgi': 1 })
    expect(trashContent(emu).files).not.toContain('report.txt:10')
    expect(await run(`ls ${trashDir}/files`)).toBe('Holidays\ndraft.2.txt\ndraft.txt\n')
  })

  it('emptying the trash as gvfsd-trash does (to expunged/, info removed, then deleted) costs one file/rm for many files', async () => {
    await run(`for f in ${mnt}/Pictures/photo-*.jpg; do gio trash "$f"; done`)
    expect((await run(`ls ${trashDir}/files`)).split('\n').filter((name) => name.startsWith('photo-'))).toHaveLength(PHOTOS)
    mark()
    // trash_item_delete for each item, then trash_expunge (gvfs daemon/trashlib).
    await run(`cd ${trashDir} && n=1000 && for f in files/photo-*; do b=$(basename "$f"); mv "$f" expunged/$n; rm -f "info/$b.trashinfo"; n=$((n+1)); done`)
    expect(spent()).toEqual({})
    expect(await run(`ls ${trashDir}/info`)).toBe('Holidays.trashinfo\ndraft.2.txt.trashinfo\ndraft.txt.trashinfo\n')
    await run(`chmod 700 ${trashDir}/expunged && rm -rf ${trashDir}/expunged/*`)
    await waitForUploads(mount)
    expect(spent()).toEqual({ 'file/rm.cgi': 1 })
    expect(trashContent(emu).files.filter((name) => name.startsWith('photo-'))).toEqual([])
    expect(await run(`ls ${trashDir}/expunged`)).toBe('')
  })

  describe.skipIf(typeof gvfs === 'string')(`with the gvfs trash daemon${typeof gvfs === 'string' ? ` (skipped: ${gvfs})` : ''}`, () => {
    it('gio trash --list shows the entries, --restore puts one back, --empty deletes the rest for good', async () => {
      const desktop = gvfs as Gvfs
      const listed = await desktop.run('gio trash --list')
      expect(listed.code, listed.stderr).toBe(0)
      // The trash daemon lists every mount's trash: other test runs' mounts are not this test's.
      const lines = listed.stdout.trim().split('\n').filter((line) => line.split('\t')[1]?.startsWith(`${mnt}/`))
      expect(lines.map((line) => line.split('\t')[1]).sort()).toEqual([`${mnt}/Documents/draft.txt`, `${mnt}/Documents/draft.txt`, `${mnt}/Pictures/Holidays`])
      mark()
      const holidays = lines.find((line) => line.endsWith('/Pictures/Holidays'))?.split('\t')[0] as string
      expect((await desktop.run(`gio trash --restore '${holidays}'`)).code).toBe(0)
      expect(spent()).toEqual({ 'folder/mv.cgi': 1 })
      expect(await run(`ls ${mnt}/Pictures/Holidays`)).toBe('beach.jpg\n')
      mark()
      // The expunge thread of gvfsd-trash works after --empty returns; the session waits for it.
      const emptied = await desktop.run(`gio trash --empty && for i in $(seq 1 50); do [ -z "$(ls ${trashDir}/expunged)" ] && break; sleep 0.2; done`)
      expect(emptied.code, emptied.stderr).toBe(0)
      await waitForUploads(mount)
      expect(spent()).toEqual({ 'file/rm.cgi': 1 })
      expect(trashContent(emu)).toEqual({ files: [], folders: [] })
      expect(await run(`ls ${trashDir}/files ${trashDir}/info ${trashDir}/expunged`)).toBe(`${trashDir}/expunged:\n\n${trashDir}/files:\n\n${trashDir}/info:\n`)
      expect(emu.tree().map((entry) => entry.path).filter((path) => path.startsWith(TRASH_FOLDER))).toEqual([TRASH_FOLDER])
    })
  })
})
