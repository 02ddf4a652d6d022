/**
 * 1fichier unreachable (the emulator stopped): `fichfs mount` exits at once with a clear
 * message (it does not mount an account it cannot list); a read of data not in the cache fails
 * within its bound (EIO); a stop does not wait for uploads that cannot happen, and SIGTERM is
 * honoured; pending uploads survive the outage, and once the service is back (same port, same
 * data dir) everything arrives, once.
 *
 * Time-scaled x10: the documented bounds (15 s of retries, then the outage is known and calls
 * fail at their first attempt) are 1.5 s here.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods, expectStoredExactly } from '../support/checks.js'
import { BIN, exec, mountFichfs, run, sh, tempDirsForFile, waitForUploads } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

const dir = tempDirsForFile()

/** The same service again: same port, same data dir, same key. */
function restart(emu: Emulator): Promise<Emulator> {
  return startEmulator({ dataDir: emu.dataDir, port: emu.port, apiKey: emu.apiKey, timeScale: 10 })
}

describe('1fichier unreachable', () => {
  it('fichfs mount fails fast with a clear message, and mounts nothing', async () => {
    const emu = await startEmulator({ dataDir: await dir('down-emu'), timeScale: 10 })
    await emu.close()
    const mountpoint = await dir('down-mnt')
    const started = Date.now()
    const result = await sh(`node ${BIN} mount ${mountpoint} --endpoint ${emu.apiBase} --cache-dir ${await dir('down-cache')} --time-scale 10`, {
      env: { ...process.env, FICHFS_API_KEY: emu.apiKey }, timeoutMs: 60_000,
    })
    expect(result.code).toBe(1)
    // 15 s of retries at x1 (1.5 s here), not 8 retries through the 30 s listing gate.
    expect(Date.now() - started).toBeLessThan(8_000)
    expect(result.stderr).toContain('FICHFS_UNREACHABLE')
    expect(result.stderr).toContain(`cannot reach 1fichier at ${emu.apiBase}`)
    expect(result.stderr).toMatch(/ECONNREFUSED/)
    expect((await exec('mountpoint', ['-q', mountpoint])).code).not.toBe(0)
  })

  it('a read fails within its bound, a stop does not wait for uploads, SIGTERM is honoured; after the outage everything arrives once', async () => {
    let emu = await startEmulator({ dataDir: await dir('outage-emu'), timeScale: 10 })
    try {
      const source = await dir('outage-src')
      const files: Record<string, number> = { 'remote.bin': 2_000_000 }
      await writeTree(source, { files })
      const cacheDir = await dir('outage-cache')
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '100ms', '--disk-cache', '0'] })
      await run(`cp ${source}/remote.bin ${mount.mountpoint}/remote.bin`)
      await waitForUploads(mount)
      // Remount: remote.bin is listed but not in any cache, and a pending file is journaled.
      expect(await mount.stop()).toBe(0)
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args: ['--write-back', '1h', '--disk-cache', '0', '--memory-cache', '8M'] })
      await run(`ls -l ${mount.mountpoint}`)
      await run(`echo pending > ${mount.mountpoint}/pending.txt`)

      await emu.close()
      let started = Date.now()
      const read = await sh(`cat ${mount.mountpoint}/remote.bin > /dev/null`, { timeoutMs: 60_000 })
      expect(read.code).not.toBe(0)
      expect(read.stderr).toMatch(/Input\/output error/)
      // The bound: 25 s at x1 (2.5 s here) plus the kernel's own retry of a failed read.
      expect(Date.now() - started).toBeLessThan(6_000)
      // Once the outage is known, the next read fails at its first attempt.
      started = Date.now()
      expect((await sh(`head -c 1 ${mount.mountpoint}/remote.bin`)).code).not.toBe(0)
      expect(Date.now() - started).toBeLessThan(3_000)
      // What is cached still answers: the listing, and the pending file (local).
      expect(await run(`cat ${mount.mountpoint}/pending.txt`)).toBe('pending\n')
      const status = JSON.parse(await run(`node ${BIN} status ${mount.mountpoint} --json`)) as { api: { unreachable: boolean } }
      expect(status.api.unreachable).toBe(true)

      // SIGTERM: the stop would wait for pending.txt, which cannot go up: it does not wait.
      started = Date.now()
      mount.process.kill('SIGTERM')
      expect(await mount.exitWithin(10_000)).toBe(0)
      expect(mount.output()).toMatch(/1fichier cannot be reached: not waiting/)
      expect(mount.output()).toMatch(/1 file\(s\) not uploaded yet/)

      // Back on the same port and data dir: the next mount sends the pending file, once.
      emu = await restart(emu)
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
      await waitForUploads(mount)
      expect((await readFile(join(mount.mountpoint, 'remote.bin'))).equals(await readFile(join(source, 'remote.bin')))).toBe(true)
      expect(await mount.stop()).toBe(0)
      expect(emu.tree().filter((entry) => entry.type === 'file').map((entry) => entry.path).sort()).toEqual(['/pending.txt', '/remote.bin'])
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('the emulator stopped for 20 s while uploads are pending, then back on the same port and data dir: every file arrives once', async () => {
    let emu = await startEmulator({ dataDir: await dir('gap-emu'), timeScale: 10 })
    try {
      const source = await dir('gap-src')
      const files: Record<string, number> = {}
      for (let i = 0; i < 40; i++) files[`batch/f-${i}.bin`] = 10_000 + i * 1000
      files['big/one.bin'] = 20_000_000
      await writeTree(source, { files })
      const cacheDir = await dir('gap-cache')
      // Two attempts per file: an outage must not use them up (it costs none).
      const mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '200ms', '--upload-attempts', '2'] })
      await run(`rsync -a ${source}/ ${mount.mountpoint}/tree/`, { timeoutMs: 120_000 })
      // Down while the uploads go (some on the wire, some queued) ...
      await emu.close()
      await new Promise((resolve) => setTimeout(resolve, 20_000))
      // ... and back: the same mount sends everything, with no second copy of anything cut.
      emu = await restart(emu)
      await waitForUploads(mount, 120_000)
      expect(mount.output()).toMatch(/upload failed, will retry.*ECONNREFUSED|ECONNREFUSED.*upload failed, will retry/)
      await expectStoredExactly(emu, source, 'tree')
      expect(await mount.stop()).toBe(0)
      // Read back through a fresh cache dir: the service has the bytes.
      const fresh = await mountFichfs(emu, { cacheDir: await dir('gap-fresh') })
      await run(`cmp ${source}/big/one.bin ${fresh.mountpoint}/tree/big/one.bin`)
      await run(`diff -r ${source} ${fresh.mountpoint}/tree`)
      expect(await fresh.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  }, 180_000)
})
