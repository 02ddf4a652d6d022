/**
 * The mount command's lifecycle: --daemon, unmount from another process, a refused key, and a
 * CLI command running beside the mount sharing its rate budget.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { expectNoFloods } from '../support/checks.js'
import { startEmulator } from '../../src/emulator/index.js'
import { testClient } from '../support/client.js'
import { BIN, isMounted, mountFichfs, run, sh, tempDirsForFile } from '../support/mount.js'

const dir = tempDirsForFile()

describe('mount lifecycle', () => {
  it('--daemon returns once mounted; fichfs unmount stops it', async () => {
    const emu = await startEmulator({ dataDir: await dir('daemon-emu'), timeScale: 10 })
    try {
      const mountpoint = await dir('daemon-mnt')
      const cacheDir = await dir('daemon-cache')
      const logFile = `${cacheDir}/daemon.log`
      const env = { ...process.env, FICHFS_API_KEY: emu.apiKey }
      const started = await sh(`node ${BIN} mount --daemon ${mountpoint} --endpoint ${emu.apiBase} --cache-dir ${cacheDir} --time-scale 10 --log-file ${logFile}`, { env, timeoutMs: 30_000 })
      expect(started.code).toBe(0)
      expect(started.stdout).toMatch(/mounted .* \(pid \d+/)
      expect(isMounted(mountpoint)).toBe(true)
      await run(`echo daemonized > ${mountpoint}/d.txt && cat ${mountpoint}/d.txt`)
      const stopped = await sh(`node ${BIN} unmount ${mountpoint}`, { timeoutMs: 60_000 })
      expect(stopped.code).toBe(0)
      expect(isMounted(mountpoint)).toBe(false)
      expect(emu.tree().find((entry) => entry.path === '/d.txt')?.size).toBe(11)
      // The key never reaches the log file.
      expect(await run(`cat ${logFile}`)).not.toContain(emu.apiKey)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('--read-only and --allow-other reach the kernel mount options', async () => {
    const emu = await startEmulator({ dataDir: await dir('opts-emu'), timeScale: 10 })
    try {
      const mount = await mountFichfs(emu, { cacheDir: await dir('opts-cache'), args: ['--read-only', '--allow-other'] })
      const options = (await run(`grep ' ${mount.mountpoint} ' /proc/mounts`)).split(' ')[3] ?? ''
      expect(options.split(',')).toContain('allow_other')
      expect((await sh(`touch ${mount.mountpoint}/x`)).stderr).toMatch(/Read-only file system/)
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('a plain umount from outside: the daemon finishes its uploads and exits', async () => {
    const emu = await startEmulator({ dataDir: await dir('umount-emu'), timeScale: 10 })
    try {
      const mount = await mountFichfs(emu, { cacheDir: await dir('umount-cache'), args: ['--write-back', '5s'] })
      await run(`echo outside > ${mount.mountpoint}/o.txt`)
      await run(`umount ${mount.mountpoint}`)
      expect(await Promise.race([mount.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))])).toBe(0)
      expect(emu.tree().find((entry) => entry.path === '/o.txt')?.size).toBe(8)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('a refused key fails before mounting, with a hint to regenerate it', async () => {
    const emu = await startEmulator({ dataDir: await dir('badkey-emu') })
    try {
      const mountpoint = await dir('badkey-mnt')
      const wrong = 'Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey'
      const result = await sh(`node ${BIN} mount ${mountpoint} --endpoint ${emu.apiBase} --cache-dir ${await dir('badkey-cache')}`, {
        env: { ...process.env, FICHFS_API_KEY: wrong }, timeoutMs: 30_000,
      })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/FICHFS_AUTH/)
      expect(result.stderr).toMatch(/regenerate/)
      expect(result.stderr).not.toContain(wrong)
      expect(isMounted(mountpoint)).toBe(false)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('a key given on the command line is refused, pointing to the safe ways', async () => {
    const result = await sh(`node ${BIN} mount /tmp/x --api-key=abc`)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/FICHFS_API_KEY/)
    expect(result.stderr).toMatch(/--api-key-file/)
    expect(result.stderr).toMatch(/fichfs login/)
  })

  it('a read slower than fuse-native\'s 15 s default still answers, and the daemon lives on', async () => {
    const emu = await startEmulator({ dataDir: await dir('slow-emu'), timeScale: 10 })
    try {
      const client = testClient(emu, { timeScale: 10 })
      await client.upload(0, [{ name: 'slow.txt', size: 5, open: () => Readable.from([Buffer.from('slow\n')]) }])
      await client.close()
      const mount = await mountFichfs(emu, { cacheDir: await dir('slow-cache') })
      await run(`ls ${mount.mountpoint}`)
      // get_token, then the ranged GET: 8 s each, so the first read takes over 16 s.
      emu.setFaults({ latencyMs: 8_000 })
      const started = Date.now()
      expect(await run(`cat ${mount.mountpoint}/slow.txt`, { timeoutMs: 60_000 })).toBe('slow\n')
      expect(Date.now() - started).toBeGreaterThan(15_000)
      expect(mount.process.exitCode).toBeNull()
      expect(mount.output()).not.toMatch(/took too long|ETIMEDOUT/)
      emu.setFaults({ latencyMs: 0 })
      expect(await mount.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  }, 120_000)
})
