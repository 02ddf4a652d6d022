/**
 * The cache disk fills up (--cache-dir on a 50 MB tmpfs, a 100 MB file written): the writer
 * gets ENOSPC, never EIO; new files are refused with ENOSPC; deleting still works; what was
 * journaled before is kept; once space is freed the mount works again without a restart; and
 * `fichfs status` and the log say the cache disk is full and where. A file whose write failed
 * is never uploaded as if complete, also after kill -9 and a remount.
 *
 * Needs root (mount -t tmpfs); skipped cleanly otherwise.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, exec, mountFichfs, removeDir, stopAllMounts, tempDir, waitForUploads } from '../support/mount.js'

const dirs: string[] = []
async function dir(label: string): Promise<string> {
  const path = await tempDir(label)
  dirs.push(path)
  return path
}

let small: string | undefined

beforeAll(async () => {
  const target = await dir('tmpfs')
  const mounted = await exec('mount', ['-t', 'tmpfs', '-o', 'size=50m,mode=0700', 'tmpfs', target])
  if (mounted.code === 0) small = target
})

afterAll(async () => {
  await stopAllMounts()
  if (small) await exec('umount', [small])
  for (const path of dirs) await removeDir(path)
})

const fichfs = (...args: string[]) => exec(process.execPath, [BIN, ...args], { timeoutMs: 60_000 })

async function statusJson(mountpoint: string): Promise<Record<string, any>> {
  const result = await fichfs('status', mountpoint, '--json')
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as Record<string, any>
}

/** 100 MB into a 50 MB cache disk: dd must stop on ENOSPC. */
async function overfill(path: string): Promise<string> {
  const dd = await exec('dd', ['if=/dev/zero', `of=${path}`, 'bs=1M', 'count=100', 'status=none'], { timeoutMs: 120_000 })
  expect(dd.code).not.toBe(0)
  return dd.stderr
}

describe('a full cache disk', () => {
  it('ENOSPC, never EIO; deletes work; what was journaled stays; it works again once space is freed', async (ctx) => {
    if (!small) return ctx.skip()
    const emu = await startEmulator({ dataDir: await dir('full-emu'), timeScale: 10 })
    try {
      const cacheDir = join(small, 'cache-a')
      await mkdir(cacheDir)
      const mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '1h', '--disk-cache', '0'] })
      const mnt = mount.mountpoint
      await writeFile(join(mnt, 'keep.txt'), 'journaled before the disk filled up\n')
      await mkdir(join(mnt, 'folder'))

      const ddError = await overfill(join(mnt, 'big.bin'))
      expect(ddError).toMatch(/No space left on device/)
      expect(ddError).not.toMatch(/Input\/output error/)
      const touched = await exec('touch', [join(mnt, 'new.txt')])
      expect(touched.code).not.toBe(0)
      expect(touched.stderr).toMatch(/No space left on device/)

      // status says so, and where; the incomplete file is failed, the journaled one pending.
      const full = await statusJson(mnt)
      expect(full.cacheDisk.full).toBe(true)
      expect(full.cacheDisk.dir.startsWith(cacheDir)).toBe(true)
      expect(full.uploads.pending).toBe(1)
      expect(full.uploads.failed).toBe(1)
      expect(full.uploads.failures[0].path).toBe('/big.bin')
      expect(full.uploads.failures[0].error).toMatch(/incomplete/)
      const text = await fichfs('status', mnt)
      expect(text.stdout).toMatch(/Cache disk\s+FULL: .*cache-a/)

      // Deleting still works (a folder, then the file), and frees the space: writes work again
      // without a restart.
      const rmdir = await exec('rmdir', [join(mnt, 'folder')])
      expect(rmdir.code, rmdir.stderr).toBe(0)
      const removed = await exec('rm', [join(mnt, 'big.bin')])
      expect(removed.code, removed.stderr).toBe(0)
      await writeFile(join(mnt, 'new.txt'), 'written once space was back\n')
      expect((await statusJson(mnt)).cacheDisk.full).toBe(false)

      // The log said it plainly; no failure went unexplained (EIO).
      expect(mount.output()).toMatch(/the cache disk is full \(.*cache-a/)
      expect(mount.output()).toMatch(/the cache disk has room again/)
      expect(mount.output()).not.toMatch(/unexpected failure/)

      // Nothing journaled was lost; the failed file never went up.
      const unmounted = await fichfs('unmount', mnt)
      expect(unmounted.code, unmounted.stderr).toBe(0)
      expect(await mount.exitWithin(30_000)).toBe(0)
      const stored = emu.tree().filter((entry) => entry.type === 'file').map((entry) => entry.path).sort()
      expect(stored).toEqual(['/keep.txt', '/new.txt'])
      expectNoFloods(emu)
    } finally {
      await emu.close()
      await rm(join(small, 'cache-a'), { recursive: true, force: true })
    }
  })

  it('a mount starts on a cache disk something else filled up, refuses new files, and works again once space is back', async (ctx) => {
    if (!small) return ctx.skip()
    const emu = await startEmulator({ dataDir: await dir('full3-emu'), timeScale: 10 })
    const filler = join(small, 'filler.bin')
    try {
      const cacheDir = join(small, 'cache-c')
      await mkdir(cacheDir)
      const args = ['--write-back', '1h', '--disk-cache', '0', '--dir-cache-time', '0']
      let mount = await mountFichfs(emu, { cacheDir, args })
      await writeFile(join(mount.mountpoint, 'queued.txt'), 'queued before the disk filled up\n')
      await fichfs('unmount', '--no-wait', mount.mountpoint)
      expect(await mount.exitWithin(30_000)).toBe(0)
      // Another program fills the disk; the next mount must still start (it journals things).
      await exec('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=100', 'status=none'])
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args })
      expect((await statusJson(mount.mountpoint)).cacheDisk.full).toBe(true)
      expect(await readFile(join(mount.mountpoint, 'queued.txt'), 'utf8')).toBe('queued before the disk filled up\n')
      const touched = await exec('touch', [join(mount.mountpoint, 'new.txt')])
      expect(touched.stderr).toMatch(/No space left on device/)
      // Space back: it works again, and the queued file goes up.
      await rm(filler)
      await writeFile(join(mount.mountpoint, 'new.txt'), 'new\n')
      expect((await statusJson(mount.mountpoint)).cacheDisk.full).toBe(false)
      expect(await mount.stop()).toBe(0)
      expect(emu.tree().filter((entry) => entry.type === 'file').map((entry) => entry.path).sort()).toEqual(['/new.txt', '/queued.txt'])
      expectNoFloods(emu)
    } finally {
      await emu.close()
      await rm(filler, { force: true })
      await rm(join(small, 'cache-c'), { recursive: true, force: true })
    }
  })

  it('a file whose write failed is never uploaded, also after kill -9 and a remount on the full disk', async (ctx) => {
    if (!small) return ctx.skip()
    const emu = await startEmulator({ dataDir: await dir('full2-emu'), timeScale: 10 })
    try {
      const cacheDir = join(small, 'cache-b')
      await mkdir(cacheDir)
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '100ms', '--disk-cache', '0'] })
      const mnt = mount.mountpoint
      expect(await overfill(join(mnt, 'big.bin'))).toMatch(/No space left on device/)
      await mount.kill9()

      // The disk is still full: the mount must start all the same (to let the user clean up).
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--write-back', '100ms', '--disk-cache', '0'] })
      const status = await statusJson(mnt)
      expect(status.uploads.failed).toBe(1)
      expect(status.uploads.pending).toBe(0)
      expect(status.uploads.failures[0].error).toMatch(/incomplete/)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      expect(emu.tree().filter((entry) => entry.type === 'file')).toEqual([])
      // fsync of it fails rather than uploading it.
      const synced = await exec('dd', ['if=/dev/null', `of=${join(mnt, 'big.bin')}`, 'conv=notrunc,fsync', 'status=none'])
      expect(synced.code).not.toBe(0)
      // A stop does not wait for it.
      const unmounted = await fichfs('unmount', mnt)
      expect(unmounted.code, unmounted.stderr).toBe(0)
      expect(unmounted.stderr).toMatch(/big\.bin.*incomplete/)
      expect(await mount.exitWithin(30_000)).toBe(0)
      expect(emu.tree().filter((entry) => entry.type === 'file')).toEqual([])

      // Written again from the start, it is an ordinary file again.
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--write-back', '100ms', '--disk-cache', '0'] })
      await writeFile(join(mnt, 'big.bin'), 'rewritten\n')
      await waitForUploads(mount)
      expect(emu.tree().filter((entry) => entry.type === 'file').map((entry) => [entry.path, entry.size])).toEqual([['/big.bin', 10]])
      expect(await mount.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
      await rm(join(small, 'cache-b'), { recursive: true, force: true })
    }
  })
})
