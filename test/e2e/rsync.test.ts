/**
 * rsync into the mount, the way people back up to 1fichier: every file arrives intact (checked
 * against the emulator's own Whirlpool checksums and read back by a fresh daemon), a second
 * run has nothing to do, and the whole thing stays within its API-call budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods, expectStoredExactly, trashContent } from '../support/checks.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'
import { backupSpec, writeTree } from '../support/tree.js'

describe('rsync -a into the mount', () => {
  let source: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount

  beforeAll(async () => {
    source = await tempDir('rsync-src')
    await writeTree(source, backupSpec())
    emu = await startEmulator({ dataDir: await tempDir('rsync-emu'), timeScale: 10 })
    cacheDir = await tempDir('rsync-cache')
    mount = await mountFichfs(emu, { cacheDir })
  })

  afterAll(async () => {
    await stopAllMounts()
    // No flood met, and no libfuse hidden name (.fuse_hidden…) ever reached 1fichier.
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [source, emu.dataDir, cacheDir, mount.mountpoint]) await removeDir(dir)
  })

  it('arrives intact, checked against the emulator checksums, with no listing of our own writes', async () => {
    emu.resetStats()
    await run(`rsync -a ${source}/ ${mount.mountpoint}/backup/`, { timeoutMs: 300_000 })
    await waitForUploads(mount)
    const checked = await expectStoredExactly(emu, source, 'backup')
    expect(checked).toBe(500 - 10 + 7)
    const calls = emu.stats().calls
    expect(calls['folder/ls.cgi'] ?? 0).toBe(0)
    expect(calls['file/ls.cgi'] ?? 0).toBe(0)
    expect(calls['file/info.cgi'] ?? 0).toBe(0)
    // Every file went up under its final name: no rename calls for rsync's temporary files.
    expect(calls['file/rename.cgi'] ?? 0).toBe(0)
    expect(calls['file/mv.cgi'] ?? 0).toBe(0)
  })

  it('a second rsync -a --itemize-changes has nothing to transfer', async () => {
    const before = emu.stats().apiCalls
    const changes = await run(`rsync -a --itemize-changes ${source}/ ${mount.mountpoint}/backup/`)
    expect(changes).toBe('')
    expect(emu.stats().apiCalls).toBe(before)
  })

  it('a fresh daemon (no block cache) reads everything back, empty files included', async () => {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args: ['--disk-cache', '0'] })
    const downloaded = emu.stats().download.bytes
    await run(`diff -r ${source} ${mount.mountpoint}/backup`, { timeoutMs: 300_000 })
    expect(emu.stats().download.bytes - downloaded).toBeGreaterThanOrEqual(200_000_000)
    expect(await run(`rsync -a --itemize-changes ${source}/ ${mount.mountpoint}/backup/`)).toBe('')
  })

  it('changed files go up again through rsync\'s temporary file: the new bytes replace the old, one copy each', async () => {
    const changed = (await run(`ls ${source}/small | head -3`)).trim().split('\n')
    expect(changed).toHaveLength(3)
    const oldSizes = await Promise.all(changed.map(async (name) => Number((await run(`stat -c %s ${source}/small/${name}`)).trim())))
    for (const name of changed) await run(`head -c 3000 /dev/urandom > ${source}/small/${name}`)
    emu.resetStats()
    const items = (await run(`rsync -a --itemize-changes ${source}/ ${mount.mountpoint}/backup/`)).trim().split('\n')
    expect(items.filter((line) => line.startsWith('>f'))).toHaveLength(3)
    await waitForUploads(mount)
    // Every file (the three changed ones included) stored exactly once, with its current bytes.
    expect(await expectStoredExactly(emu, source, 'backup')).toBe(500 - 10 + 7)
    const stats = emu.stats()
    expect(stats.upload.files).toBe(3)
    // The old versions went to the trash (the default), all that one upload replaced in one file/mv.
    expect(stats.calls['file/mv.cgi']).toBe(stats.upload.requests)
    expect(stats.calls['file/rm.cgi'] ?? 0).toBe(0)
    expect(trashContent(emu).files).toEqual(changed.map((name, index) => `${name}:${oldSizes[index]}`).sort())
    expect(stats.calls['file/rename.cgi'] ?? 0).toBe(0)
    expect(await run(`rsync -a --itemize-changes ${source}/ ${mount.mountpoint}/backup/`)).toBe('')
  })

  it('500 small files into one new folder cost at most 25 API calls in all', async () => {
    const small = await tempDir('rsync-small')
    try {
      await run(`cp -a ${source}/small/. ${small}/`)
      emu.resetStats()
      await run(`rsync -a ${small}/ ${mount.mountpoint}/only-small/`, { timeoutMs: 120_000 })
      await waitForUploads(mount)
      await expectStoredExactly(emu, small, 'only-small')
      const stats = emu.stats()
      expect(stats.apiCalls).toBeLessThanOrEqual(25)
      expect(stats.upload.files).toBe(490)
      // 490 files in a handful of upload requests, not one each.
      expect(stats.upload.requests).toBeLessThanOrEqual(10)
    } finally {
      await removeDir(small)
    }
  })
})
