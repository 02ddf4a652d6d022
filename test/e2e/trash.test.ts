/**
 * Undo for deletes, on a real mount (the trash is on by default): `rm -rf` of a tree moves it
 * to the account's trash folder for one call per file and folder, `fichfs trash restore` brings
 * every file back byte for byte (the running mount shows it at once; checked again after a
 * remount), also without a mount, an overwrite's old version is restorable, `fichfs trash
 * empty` deletes for good in few calls, the mount empties old entries by itself, and --no-trash
 * deletes for good.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { callMeter, expectNoFloods, expectStoredExactly, TRASH_FOLDER, trashContent } from '../support/checks.js'
import { BIN, mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'
import { writeTree, type TreeSpec } from '../support/tree.js'

const TREE: TreeSpec = {
  files: {
    'backup/notes.txt': 'notes\n',
    'backup/photos/one.jpg': 120_000,
    'backup/photos/two.jpg': 80_000,
    'backup/photos/2024/three.jpg': 300_000,
    'backup/photos/2024/four.jpg': 5_000,
    'backup/docs/report.pdf': 1_500_000,
    'backup/docs/ünïcødé ☃.txt': 'odd name\n',
  },
  folders: ['backup/empty'],
}
/**
 * Runs of calls paced at the limit (rm -rf): at time scale 2 the pacer's margin under the
 * emulator's limit (100 ms) outlasts a loaded machine's jitter; at 10 (20 ms) and even at 5
 * (40 ms) a machine running several suites at once flooded.
 */
const SCALE = 2
/** Files under /backup, and folders with /backup itself. */
const FILES = 7
const FOLDERS = 5

describe('the trash: undo for deletes', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  const { mark, spent } = callMeter(() => emu)
  const fichfs = (args: string) => sh(`node ${BIN} ${args} --time-scale ${SCALE}`, { env: { ...process.env, FICHFS_API_KEY: emu.apiKey } })
  const remount = async (args: string[] = []) => {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args, timeScale: SCALE })
  }

  beforeAll(async () => {
    seed = await tempDir('trash-seed')
    await writeTree(seed, TREE)
    emu = await startEmulator({ dataDir: await tempDir('trash-emu'), seedDir: seed, timeScale: SCALE })
    cacheDir = await tempDir('trash-cache')
    mount = await mountFichfs(emu, { cacheDir, timeScale: SCALE })
    mnt = mount.mountpoint
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  it('rm -rf moves the tree to the trash: one call per file and folder, nothing of it shown; status and df count it', async () => {
    mark()
    await run(`rm -rf ${mnt}/backup`)
    // Listing each folder (rm walks it), one folder/mkdir for the trash folder, one move each
    // (and rm's fstatfs, answered by one user/info).
    const { 'user/info.cgi': statfs = 0, ...calls } = spent()
    expect(calls).toEqual({ 'folder/ls.cgi': FOLDERS, 'folder/mkdir.cgi': 1, 'file/mv.cgi': FILES, 'folder/mv.cgi': FOLDERS })
    expect(statfs).toBeLessThanOrEqual(1)
    expect(await run(`ls -A ${mnt}`)).toBe('')
    expect((await fichfs(`ls ${mnt}`)).stdout).toBe('')
    expect((await sh(`stat ${mnt}${TRASH_FOLDER}`)).code).not.toBe(0)
    expect(emu.tree().filter((entry) => entry.path.startsWith('/backup'))).toEqual([])
    const trash = trashContent(emu)
    expect(trash.files).toEqual(['four.jpg:5000', 'notes.txt:6', 'one.jpg:120000', 'report.pdf:1500000', 'three.jpg:300000', 'two.jpg:80000', 'ünïcødé ☃.txt:9'])
    expect(trash.folders).toEqual(['2024', 'backup', 'docs', 'empty', 'photos'])
    const bytes = 6 + 120_000 + 80_000 + 300_000 + 5_000 + 1_500_000 + 9
    expect((await run(`node ${BIN} status ${mnt}`))).toMatch(new RegExp(`Trash\\s+${FILES + FOLDERS} item\\(s\\), 1\\.91 MiB \\(counted in df`))
    // Nothing else is on the account: what df shows used is the trash.
    const used = Number((await run(`df -B1 --output=used ${mnt} | tail -1`)).trim())
    expect(used).toBeGreaterThanOrEqual(bytes)
    expect(used).toBeLessThan(bytes + (2 << 20))
  })

  it('fichfs trash restore brings every file back byte for byte; the running mount shows it at once', async () => {
    const listed = (await fichfs(`trash list ${mnt}`)).stdout
    expect(listed).toContain('/backup/photos/2024/three.jpg')
    expect(listed).toMatch(/#\d+ .* rmdir +\/backup\/$/m)
    mark()
    const restored = await fichfs(`trash restore ${mnt}/backup`)
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toContain('restored /backup/docs/report.pdf\n')
    // A folder/mv per folder, a file/mv per folder the files go back into; nothing listed.
    expect(spent()).toEqual({ 'folder/mv.cgi': FOLDERS, 'file/mv.cgi': 4 })
    // The mount has not been told anything but what is in the shared database.
    await run(`diff -r ${seed}/backup ${mnt}/backup`)
    await expectStoredExactly(emu, join(seed, 'backup'), 'backup')
    expect(trashContent(emu)).toEqual({ files: [], folders: [] })
    expect(JSON.parse((await fichfs('trash list --json --endpoint ' + emu.apiBase + ' --cache-dir ' + cacheDir)).stdout)).toEqual([])
    await remount(['--disk-cache', '0'])
    await run(`diff -r ${seed}/backup ${mnt}/backup`)
    expect(await run(`ls ${mnt}/backup`)).toBe('docs\nempty\nnotes.txt\nphotos\n')
  })

  it('an overwrite puts the old version in the trash; restoring it beside the new one needs --rename', async () => {
    await run(`echo 'first version' > ${mnt}/notes.txt`)
    await waitForUploads(mount)
    mark()
    await run(`echo 'second version' > ${mnt}/notes.txt`)
    await waitForUploads(mount)
    expect(spent()).toEqual({ 'upload/get_upload_server.cgi': 1, 'file/mv.cgi': 1 })
    expect(trashContent(emu).files).toEqual(['notes.txt:14'])
    mark()
    const refused = await fichfs(`trash restore ${mnt}/notes.txt`)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('/notes.txt exists again; nothing was restored')
    expect(refused.stderr).toContain('--rename')
    expect(spent()).toEqual({})
    const renamed = await fichfs(`trash restore --rename ${mnt}/notes.txt`)
    expect(renamed.stdout).toBe('restored /notes.txt as /notes (restored).txt\n')
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    expect(await readFile(join(mnt, 'notes (restored).txt'), 'utf8')).toBe('first version\n')
    expect(await readFile(join(mnt, 'notes.txt'), 'utf8')).toBe('second version\n')
  })

  it('fichfs trash restore works without a mount too; the next mount shows what it brought back', async () => {
    await run(`rm ${mnt}/backup/photos/one.jpg`)
    await mount.stop()
    mark()
    const restored = await fichfs(`trash restore /backup/photos/one.jpg --endpoint ${emu.apiBase} --cache-dir ${cacheDir}`)
    expect(restored.stdout, restored.stderr).toBe('restored /backup/photos/one.jpg\n')
    expect(spent()).toEqual({ 'file/mv.cgi': 1 })
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--disk-cache', '0'], timeScale: SCALE })
    mark()
    const downloads = emu.stats().download.requests
    await run(`cmp ${seed}/backup/photos/one.jpg ${mnt}/backup/photos/one.jpg`)
    // Known to the cache already: no listing; the file keeps its URL through the moves, so the
    // download link an earlier test got for it (kept with its age) is still young: no get_token.
    expect(spent()).toEqual({})
    expect(emu.stats().download.requests).toBeGreaterThan(downloads)
  })

  it('fichfs trash empty deletes for good, 100 files per call; --older-than keeps what is recent', async () => {
    const many = await tempDir('trash-many')
    await run(`cd ${many} && for i in $(seq 1 105); do echo $i > f$i; done`)
    await run(`mkdir ${mnt}/scratch ${mnt}/empty-dir`)
    const uploaded = await fichfs(`upload ${many}/f* --to /scratch --cache-dir ${cacheDir} --endpoint ${emu.apiBase}`)
    expect(uploaded.code, uploaded.stderr).toBe(0)
    // A folder goes to the trash whole when a desktop's Delete puts it there (one folder/mv).
    await run(`mv ${mnt}/scratch ${mnt}/.Trash-${process.getuid?.() ?? 0}/files/scratch && rmdir ${mnt}/empty-dir && rm ${mnt}/notes.txt`)
    await removeDir(many)
    mark()
    expect((await fichfs(`trash empty --older-than 1h --cache-dir ${cacheDir} --endpoint ${emu.apiBase}`)).stdout).toBe('deleted for good: 0 file(s), 0 folder(s), 0 B\n')
    expect(spent()).toEqual({})
    const emptied = await fichfs(`trash empty --cache-dir ${cacheDir} --endpoint ${emu.apiBase}`)
    expect(emptied.stdout).toMatch(/^deleted for good: 1 file\(s\), 2 folder\(s\), /)
    // The file: one file/rm. The folder that went whole is listed, then its 105 files go 100
    // per call. The rmdir'd folder is known empty: one folder/rm, no listing.
    expect(spent()).toEqual({ 'file/rm.cgi': 3, 'folder/ls.cgi': 1, 'folder/rm.cgi': 2 })
    expect(trashContent(emu)).toEqual({ files: [], folders: [] })
    expect((await run(`node ${BIN} status ${mnt}`))).toMatch(/Trash\s+0 item\(s\), 0 B; each deleted for good 30 day\(s\) after its deletion/)
  })

  it('the mount deletes entries older than --trash-retention for good by itself', async () => {
    await remount(['--trash-retention', '2s'])
    await run(`echo short-lived > ${mnt}/short.txt`)
    await waitForUploads(mount)
    await run(`rm ${mnt}/short.txt`)
    expect(trashContent(emu).files).toEqual(['short.txt:12'])
    const started = Date.now()
    while (trashContent(emu).files.length > 0 && Date.now() - started < 20_000) await new Promise((resolve) => setTimeout(resolve, 200))
    expect(trashContent(emu).files).toEqual([])
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
  })

  it('--no-trash deletes for good, as a plain file/rm', async () => {
    await remount(['--no-trash'])
    await run(`echo gone > ${mnt}/gone.txt`)
    await waitForUploads(mount)
    mark()
    await run(`rm ${mnt}/gone.txt`)
    expect(spent()).toEqual({ 'file/rm.cgi': 1 })
    expect(trashContent(emu).files).toEqual([])
    expect((await run(`node ${BIN} status ${mnt}`))).toMatch(/Trash\s+off \(--no-trash\)/)
    // The desktop finds no trash there (a file manager then offers to delete for good).
    expect((await sh(`stat ${mnt}/.Trash-0`)).code).not.toBe(0)
  })
})
