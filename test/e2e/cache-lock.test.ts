/**
 * One daemon per cache dir: a second `fichfs mount` of the same account on the same cache dir
 * is refused at once (it would resume and upload the first one's queue), and a daemon that
 * died (kill -9) does not block the next mount.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, isMounted, mountFichfs, sh, tempDirsForFile, waitForUploads } from '../support/mount.js'

const dir = tempDirsForFile()

describe('two daemons on one cache dir', () => {
  it('the second mount is refused at once, the first goes on, and a killed daemon leaves no lock behind', async () => {
    const emu = await startEmulator({ dataDir: await dir('lock-emu'), timeScale: 10 })
    try {
      const cacheDir = await dir('lock-cache')
      const first = await mountFichfs(emu, { cacheDir, args: ['--write-back', '1h'] })
      await writeFile(join(first.mountpoint, 'queued.txt'), 'queued by the first daemon\n')

      const second = await dir('lock-mnt2')
      const started = Date.now()
      const refused = await sh(`node ${BIN} mount ${second} --endpoint ${emu.apiBase} --cache-dir ${cacheDir} --time-scale 10`, {
        env: { ...process.env, FICHFS_API_KEY: emu.apiKey }, timeoutMs: 30_000,
      })
      expect(refused.code).toBe(1)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(refused.stderr).toContain('FICHFS_CACHE_IN_USE')
      expect(refused.stderr).toContain(`pid ${first.process.pid}, mounted on ${first.mountpoint}`)
      expect(refused.stderr).toMatch(/--cache-dir/)
      expect(refused.stderr).not.toMatch(/resuming/)
      expect(isMounted(second)).toBe(false)
      // The first one still serves, and still owns its queue.
      expect(await readFile(join(first.mountpoint, 'queued.txt'), 'utf8')).toBe('queued by the first daemon\n')
      expect(first.process.exitCode).toBeNull()
      expect(emu.tree().find((entry) => entry.path === '/queued.txt')).toBeUndefined()

      // kill -9: the kernel drops the lock with the process; the next mount resumes the queue.
      await first.kill9()
      const next = await mountFichfs(emu, { cacheDir, mountpoint: first.mountpoint })
      expect(next.output()).toMatch(/resuming uploads/)
      await waitForUploads(next)
      expect(emu.tree().filter((entry) => entry.path === '/queued.txt')).toHaveLength(1)
      // And a clean stop releases it too.
      expect(await next.stop()).toBe(0)
      const again = await mountFichfs(emu, { cacheDir, mountpoint: second })
      expect(await again.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })
})
