/**
 * Everyday tools writing through the mount: cp -a, tar x, mv of a folder, rm -r, overwrite and
 * append, renames; results checked byte for byte after a remount, with API-call counts.
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods, trashContent } from '../support/checks.js'
import { mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

describe('writing with everyday tools', () => {
  let source: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  const calls = () => ({ ...emu.stats().calls })
  const delta = (before: Record<string, number>) => {
    const now = emu.stats().calls
    const out: Record<string, number> = {}
    for (const [path, count] of Object.entries(now)) if (count !== (before[path] ?? 0)) out[path] = count - (before[path] ?? 0)
    return out
  }

  beforeAll(async () => {
    source = await tempDir('posix-src')
    await writeTree(source, {
      files: { 'tree/a.txt': 'alpha\n', 'tree/sub/b.bin': 300_000, 'tree/sub/deeper/c.bin': 2_000_000, 'tree/empty': 0 },
      folders: ['tree/empty-folder'],
    })
    emu = await startEmulator({ dataDir: await tempDir('posix-emu'), timeScale: 10 })
    cacheDir = await tempDir('posix-cache')
    mount = await mountFichfs(emu, { cacheDir })
    mnt = mount.mountpoint
  })

  afterAll(async () => {
    await stopAllMounts()
    // No flood met, and no libfuse hidden name (.fuse_hidden…) ever reached 1fichier.
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [source, emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  async function remount(): Promise<void> {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--disk-cache', '0'] })
  }

  it('cp -a and tar x, checked after a remount', async () => {
    await run(`cp -a ${source}/tree ${mnt}/copied`)
    await run(`tar -C ${source} -cf ${source}/tree.tar tree && mkdir ${mnt}/untarred && tar -C ${mnt}/untarred -xf ${source}/tree.tar`)
    await waitForUploads(mount)
    await remount()
    await run(`diff -r ${source}/tree ${mnt}/copied && diff -r ${source}/tree ${mnt}/untarred/tree`)
    // cp -a kept the mtimes.
    expect(await run(`stat -c %Y ${mnt}/copied/sub/b.bin`)).toBe(await run(`stat -c %Y ${source}/tree/sub/b.bin`))
  })

  it('a rename within a folder costs one call; a move across folders one; never a call to the same name', async () => {
    let before = calls()
    await run(`mv ${mnt}/copied/a.txt ${mnt}/copied/renamed.txt`)
    expect(delta(before)).toEqual({ 'file/rename.cgi': 1 })
    before = calls()
    await run(`mv ${mnt}/copied/renamed.txt ${mnt}/copied/sub/moved.txt`)
    expect(delta(before)).toEqual({ 'file/mv.cgi': 1 })
    before = calls()
    // (mv refuses this itself; the rename system call reaches the filesystem.)
    await run(`python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[1])' ${mnt}/copied/sub/moved.txt`)
    expect(delta(before)).toEqual({})
    expect(await run(`cat ${mnt}/copied/sub/moved.txt`)).toBe('alpha\n')
  })

  it('mv of a folder is one call and keeps its content; rm -r moves it to the trash', async () => {
    let before = calls()
    await run(`mv ${mnt}/untarred ${mnt}/moved-folder`)
    expect(delta(before)).toEqual({ 'folder/mv.cgi': 1 })
    await run(`diff -r ${source}/tree ${mnt}/moved-folder/tree`)
    // ...also as 1fichier has it: a fresh daemon without block cache reads it back.
    await remount()
    await run(`diff -r ${source}/tree ${mnt}/moved-folder/tree`)
    expect(emu.tree().filter((entry) => entry.path.startsWith('/moved-folder/tree/')).length).toBeGreaterThan(0)
    expect(emu.tree().some((entry) => entry.path.startsWith('/untarred'))).toBe(false)
    before = calls()
    await run(`rm -r ${mnt}/moved-folder`)
    // The trash is on by default: one move per folder and per uploaded file (the empty file
    // was only local), and the trash folder is made at this first deletion (rm's fstatfs asks
    // the quota once).
    const { 'user/info.cgi': statfs = 0, ...removed } = delta(before)
    expect(removed).toEqual({ 'folder/mv.cgi': 5, 'file/mv.cgi': 3, 'folder/mkdir.cgi': 1 })
    expect(statfs).toBeLessThanOrEqual(1)
    expect(await sh(`ls ${mnt}/moved-folder`)).toMatchObject({ code: 2 })
    expect(emu.tree().some((entry) => entry.path.startsWith('/moved-folder'))).toBe(false)
    expect(trashContent(emu)).toEqual({ files: ['a.txt:6', 'b.bin:300000', 'c.bin:2000000'], folders: ['deeper', 'empty-folder', 'moved-folder', 'sub', 'tree'] })
  })

  it('overwrite uploads the new content first, then moves the old file to the trash; both are never visible', async () => {
    const first = randomBytes(400_000)
    const second = randomBytes(250_000)
    await writeFile(join(source, 'v1'), first)
    await writeFile(join(source, 'v2'), second)
    await run(`cp ${source}/v1 ${mnt}/doc.bin`)
    await waitForUploads(mount)
    const oldUrl = emu.tree().find((entry) => entry.path === '/doc.bin')?.url
    expect(oldUrl).toBeTruthy()
    await run(`cp ${source}/v2 ${mnt}/doc.bin`)
    // Until the upload, the mount shows the new content and only one doc.bin.
    expect(await run(`ls ${mnt} | grep -c '^doc.bin'`)).toBe('1\n')
    expect((await readFile(join(mnt, 'doc.bin'))).equals(second)).toBe(true)
    await waitForUploads(mount)
    const stored = emu.tree().filter((entry) => entry.path === '/doc.bin')
    expect(stored).toHaveLength(1)
    expect(stored[0]?.url).not.toBe(oldUrl)
    expect(stored[0]?.size).toBe(second.length)
    expect(trashContent(emu).files).toContain(`doc.bin:${first.length}`)
    await remount()
    expect((await readFile(join(mnt, 'doc.bin'))).equals(second)).toBe(true)
  })

  it('writes reach the daemon in big requests (big_writes), not 4 KiB pieces', async () => {
    const writes = async () => ((await requestControl(socketPathFor(mnt), { cmd: 'status' })).status as { writes: { calls: number; bytes: number } }).writes
    const before = await writes()
    await run(`dd if=/dev/urandom of=${mnt}/big-writes.bin bs=1M count=8 status=none`)
    const after = await writes()
    expect(after.bytes - before.bytes).toBe(8 << 20)
    // 128 KiB per request at most with libfuse 2: 64 requests; 4 KiB pieces would be 2048.
    expect(after.calls - before.calls).toBeLessThanOrEqual(128)
    await waitForUploads(mount)
  })

  it('append to an existing file starts from its content', async () => {
    const base = randomBytes(1_500_000)
    await writeFile(join(source, 'log-base'), base)
    await run(`cp ${source}/log-base ${mnt}/log.bin`)
    await waitForUploads(mount)
    await remount()
    await run(`printf 'appended line\\n' >> ${mnt}/log.bin`)
    await waitForUploads(mount)
    await remount()
    const got = await readFile(join(mnt, 'log.bin'))
    expect(got.equals(Buffer.concat([base, Buffer.from('appended line\n')]))).toBe(true)
    expect(emu.tree().filter((entry) => entry.path === '/log.bin')).toHaveLength(1)
  })

  it('mkdir, rmdir and their errors', async () => {
    const before = calls()
    await run(`mkdir ${mnt}/d1 && mkdir ${mnt}/d1/d2`)
    expect(delta(before)).toEqual({ 'folder/mkdir.cgi': 2 })
    expect((await sh(`rmdir ${mnt}/d1`)).stderr).toMatch(/not empty/i)
    expect((await sh(`mkdir ${mnt}/d1`)).stderr).toMatch(/exists/i)
    await run(`rmdir ${mnt}/d1/d2 ${mnt}/d1`)
    expect(await sh(`ls ${mnt}/d1`)).toMatchObject({ code: 2 })
  })

  it('touch makes a zero-byte file that survives a remount; names too long fail at once', async () => {
    await run(`touch ${mnt}/empty-file && mkdir -p ${mnt}/e && touch ${mnt}/e/also-empty`)
    await remount()
    expect(await run(`stat -c '%s %F' ${mnt}/empty-file ${mnt}/e/also-empty`)).toBe('0 regular empty file\n0 regular empty file\n')
    const before = emu.stats().apiCalls
    const long = 'x'.repeat(256)
    expect((await sh(`touch ${mnt}/${long}`)).stderr).toMatch(/File name too long/)
    expect((await sh(`mkdir ${mnt}/${'y'.repeat(251)}`)).stderr).toMatch(/File name too long/)
    expect(emu.stats().apiCalls).toBe(before)
  })
})
