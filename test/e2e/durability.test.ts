/**
 * A write the user saw succeed is never lost: not by a crash in the middle of an upload, not by
 * a flaky service (5xx, resets, HTML from end.pl, a flood), not by an unmount.
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods, expectStoredExactly } from '../support/checks.js'
import { isMounted, mountFichfs, run, sh, tempDirsForFile, waitForUploads } from '../support/mount.js'
import { backupSpec, writeRandomFile, writeTree } from '../support/tree.js'

const dir = tempDirsForFile()

describe('durability', () => {
  it('kill -9 in the middle of a 200 MB upload: the next mount resumes it and the file arrives whole', async () => {
    const emu = await startEmulator({ dataDir: await dir('kill-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: 25_000_000 } })
    try {
      const cacheDir = await dir('kill-cache')
      const source = join(await dir('kill-src'), 'big.bin')
      await writeRandomFile(source, 200_000_000)
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '100ms'] })
      await run(`cp ${source} ${mount.mountpoint}/big.bin`)
      // Wait until the upload is on the wire, partly sent, then crash.
      const started = Date.now()
      while (!mount.output().includes('"msg":"uploading"') && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50))
      await new Promise((r) => setTimeout(r, 1500))
      await mount.kill9()
      expect(emu.tree().filter((entry) => entry.type === 'file')).toHaveLength(0)

      emu.setFaults({ bandwidthBytesPerSec: 0 })
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
      // Visible meanwhile, with its full size.
      expect((await run(`stat -c %s ${mount.mountpoint}/big.bin`)).trim()).toBe('200000000')
      await waitForUploads(mount)
      const stored = emu.tree().filter((entry) => entry.type === 'file')
      expect(stored).toHaveLength(1)
      expect(stored[0]?.size).toBe(200_000_000)
      expect(stored[0]?.whirlpool).toBe(await whirlpool(await readFile(source)))
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('with 10% 5xx, resets, HTML from end.pl and a forced flood, rsync still lands intact and fichfs causes no flood', async () => {
    const emu = await startEmulator({
      dataDir: await dir('faults-emu'),
      timeScale: 5,
      floodLockMs: 30_000,
      faults: { errorRate: 0.1, resetRate: 0.2, endHtmlRate: 0.3 },
      faultSeed: 7,
    })
    try {
      const source = await dir('faults-src')
      await writeTree(source, backupSpec())
      const mount = await mountFichfs(emu, { cacheDir: await dir('faults-cache'), timeScale: 5 })
      emu.setFaults({ floodNext: 1 })
      await run(`rsync -a ${source}/ ${mount.mountpoint}/backup/`, { timeoutMs: 300_000 })
      await waitForUploads(mount, 300_000)
      await expectStoredExactly(emu, source, 'backup')
      // Reads through the faults too.
      await run(`cmp ${source}/big/200mb.bin ${mount.mountpoint}/backup/big/200mb.bin`)
      const stats = emu.stats()
      expect(stats.floods.forced).toBe(1)
      expect(stats.floods.triggered).toBe(0)
      expect(stats.floods.whileLocked).toBe(0)
      // Some faults really happened (how many depends on timing: the dice are seeded, the order
      // of requests is not).
      expect(stats.faultsInjected.error + stats.faultsInjected.reset + stats.faultsInjected.endHtml).toBeGreaterThan(0)
      expect(await mount.stop()).toBe(0)
    } finally {
      await emu.close()
    }
  })

  it('unmount waits for pending uploads and shows progress; --no-wait keeps them for the next mount', async () => {
    const emu = await startEmulator({ dataDir: await dir('unmount-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: 20_000_000 } })
    try {
      const cacheDir = await dir('unmount-cache')
      const data = randomBytes(30_000_000)
      const source = join(await dir('unmount-src'), 'file.bin')
      await writeFile(source, data)
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '10s'] })
      await run(`cp ${source} ${mount.mountpoint}/a.bin`)
      const unmount = await sh(`node ${join(import.meta.dirname, '../../bin/fichfs.js')} unmount ${mount.mountpoint}`, { timeoutMs: 60_000 })
      expect(unmount.code).toBe(0)
      expect(unmount.stderr).toMatch(/upload/i)
      expect(await mount.exited).toBe(0)
      expect(isMounted(mount.mountpoint)).toBe(false)
      expect(emu.tree().find((entry) => entry.path === '/a.bin')?.size).toBe(30_000_000)

      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args: ['--write-back', '10s'] })
      await run(`cp ${source} ${mount.mountpoint}/b.bin`)
      const quick = await sh(`node ${join(import.meta.dirname, '../../bin/fichfs.js')} unmount --no-wait ${mount.mountpoint}`, { timeoutMs: 60_000 })
      expect(quick.code).toBe(0)
      expect(quick.stderr).toMatch(/next mount/i)
      expect(emu.tree().find((entry) => entry.path === '/b.bin')).toBeUndefined()
      emu.setFaults({ bandwidthBytesPerSec: 0 })
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
      expect((await readFile(join(mount.mountpoint, 'b.bin'))).equals(data)).toBe(true)
      await waitForUploads(mount)
      expect(emu.tree().find((entry) => entry.path === '/b.bin')?.size).toBe(30_000_000)
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('SIGTERM right after a close still uploads the file (its RELEASE may come after close returns)', async () => {
    const emu = await startEmulator({ dataDir: await dir('sigterm-emu'), timeScale: 10 })
    try {
      const cacheDir = await dir('sigterm-cache')
      let mountpoint: string | undefined
      for (let round = 0; round < 5; round++) {
        const mount = await mountFichfs(emu, { cacheDir, mountpoint, args: ['--write-back', '30s'] })
        mountpoint = mount.mountpoint
        const written = await sh(`echo round ${round} > ${mount.mountpoint}/r${round}.txt`, { timeoutMs: 30_000 })
        expect(written.code, `echo failed: ${written.stderr}\n${mount.output().slice(-6000)}`).toBe(0)
        mount.process.kill('SIGTERM')
        expect(await mount.exitWithin(30_000)).toBe(0)
        expect(emu.tree().find((entry) => entry.path === `/r${round}.txt`)?.size, mount.output().slice(-6000)).toBe(8)
      }
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('a second SIGTERM stops waiting: the upload stays queued and the next mount sends it', async () => {
    const emu = await startEmulator({ dataDir: await dir('twice-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: 5_000_000 } })
    try {
      const cacheDir = await dir('twice-cache')
      const source = join(await dir('twice-src'), 'slow.bin')
      const data = randomBytes(20_000_000)
      await writeFile(source, data)
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '1h'] })
      await run(`cp ${source} ${mount.mountpoint}/slow.bin`)
      mount.process.kill('SIGTERM')
      const started = Date.now()
      while (!mount.output().includes('"msg":"uploading"') && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50))
      mount.process.kill('SIGTERM')
      expect(await mount.exitWithin(30_000)).toBe(0)
      expect(mount.output()).toContain('not waiting any longer')
      expect(mount.output()).toMatch(/1 file\(s\) not uploaded yet/)
      expect(emu.tree().find((entry) => entry.path === '/slow.bin')).toBeUndefined()
      emu.setFaults({ bandwidthBytesPerSec: 0 })
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
      await waitForUploads(mount)
      const stored = emu.tree().filter((entry) => entry.path === '/slow.bin')
      expect(stored.map((entry) => entry.whirlpool)).toEqual([await whirlpool(data)])
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('fsync returns once the file is uploaded', async () => {
    const emu = await startEmulator({ dataDir: await dir('fsync-emu'), timeScale: 10 })
    try {
      const mount = await mountFichfs(emu, { cacheDir: await dir('fsync-cache'), args: ['--write-back', '60s'] })
      await run(`head -c 3000000 /dev/urandom | dd of=${mount.mountpoint}/synced.bin bs=1M conv=fsync status=none iflag=fullblock`)
      expect(emu.tree().find((entry) => entry.path === '/synced.bin')?.size).toBe(3_000_000)
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })
})
