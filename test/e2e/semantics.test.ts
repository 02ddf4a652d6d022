/**
 * The claims of docs/SEMANTICS.md that no other test file covers, one test per claim.
 */
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { trashContent } from '../support/checks.js'
import { testClient } from '../support/client.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'

describe('docs/SEMANTICS.md', () => {
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  const calls = () => emu.stats().apiCalls
  const remount = async (args: string[] = [], dirCacheTime = '1s') => {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--dir-cache-time', dirCacheTime, ...args] })
  }

  beforeAll(async () => {
    emu = await startEmulator({ dataDir: await tempDir('sem-emu'), timeScale: 10 })
    cacheDir = await tempDir('sem-cache')
    mount = await mountFichfs(emu, { cacheDir, args: ['--dir-cache-time', '1s'] })
    mnt = mount.mountpoint
  })

  afterAll(async () => {
    await stopAllMounts()
    // No flood met, and no libfuse hidden name (.fuse_hidden…) ever reached 1fichier.
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  it('chmod is kept locally and shown; chown succeeds without effect', async () => {
    await run(`echo data > ${mnt}/perm.txt && mkdir ${mnt}/permdir`)
    await waitForUploads(mount)
    await run(`chmod 600 ${mnt}/perm.txt && chmod 700 ${mnt}/permdir && chown 1234:1234 ${mnt}/perm.txt`)
    await remount()
    expect(await run(`stat -c '%a %u' ${mnt}/perm.txt ${mnt}/permdir`)).toBe(`600 ${process.getuid?.()}\n700 ${process.getuid?.()}\n`)
  })

  it('touch -d sets an mtime that survives a remount', async () => {
    await run(`touch -d '2001-02-03 04:05:06 UTC' ${mnt}/perm.txt`)
    await remount()
    expect((await run(`date -u -r ${mnt}/perm.txt '+%F %T'`)).trim()).toBe('2001-02-03 04:05:06')
  })

  it('renaming or deleting a file not uploaded yet costs no API call', async () => {
    // A long dir cache: a listing refresh falling due in the middle would be counted too.
    await remount(['--write-back', '30s'], '5m')
    try {
      await run(`ls ${mnt} > /dev/null`)
      const before = calls()
      await run(`echo a > ${mnt}/pending.txt && mv ${mnt}/pending.txt ${mnt}/renamed.txt && echo b > ${mnt}/gone.txt && rm ${mnt}/gone.txt`)
      expect(calls()).toBe(before)
    } finally {
      // The next tests expect the usual write-back delay.
      await remount()
    }
    await waitForUploads(mount)
    expect(emu.tree().map((entry) => entry.path)).toContain('/renamed.txt')
    expect(emu.tree().map((entry) => entry.path)).not.toContain('/gone.txt')
  })

  it('a rename onto an existing file replaces it: one rename, and one move of the replaced file to the trash', async () => {
    await run(`echo old > ${mnt}/target.txt && echo new > ${mnt}/source.txt`)
    await waitForUploads(mount)
    const before = { ...emu.stats().calls }
    await run(`mv ${mnt}/source.txt ${mnt}/target.txt`)
    const after = emu.stats().calls
    expect((after['file/rename.cgi'] ?? 0) - (before['file/rename.cgi'] ?? 0)).toBe(1)
    expect((after['file/mv.cgi'] ?? 0) - (before['file/mv.cgi'] ?? 0)).toBe(1)
    expect((after['file/rm.cgi'] ?? 0) - (before['file/rm.cgi'] ?? 0)).toBe(0)
    expect(trashContent(emu).files).toEqual(['target.txt:4'])
    expect(await run(`cat ${mnt}/target.txt`)).toBe('new\n')
    expect(emu.tree().filter((entry) => entry.path === '/target.txt')).toHaveLength(1)
  })

  it('a folder renamed onto an empty folder replaces it; onto a non-empty one fails', async () => {
    await run(`mkdir -p ${mnt}/f1/inner ${mnt}/f2 ${mnt}/f3/x`)
    await run(`python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' ${mnt}/f1 ${mnt}/f2`)
    expect(await run(`ls ${mnt}/f2`)).toBe('inner\n')
    const result = await sh(`python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' ${mnt}/f2 ${mnt}/f3`)
    expect(result.stderr).toMatch(/Directory not empty/)
  })

  it('truncating a file to zero keeps it, empty, and moves the old version to the trash', async () => {
    await run(`head -c 5000 /dev/urandom > ${mnt}/shrink.bin`)
    await waitForUploads(mount)
    expect(emu.tree().find((entry) => entry.path === '/shrink.bin')?.size).toBe(5000)
    await run(`truncate -s 0 ${mnt}/shrink.bin`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await waitForUploads(mount)
    expect(emu.tree().find((entry) => entry.path === '/shrink.bin')).toBeUndefined()
    expect(trashContent(emu).files).toContain('shrink.bin:5000')
    await remount()
    expect(await run(`stat -c %s ${mnt}/shrink.bin`)).toBe('0\n')
  })

  it('files beyond 300 GB fail with EFBIG; links and special files are not implemented', async () => {
    expect((await sh(`truncate -s 301G ${mnt}/huge.bin`)).stderr).toMatch(/File too large/)
    expect((await sh(`ln -s target ${mnt}/link`)).stderr).toMatch(/Function not implemented/)
    // (the kernel turns an unimplemented link into EPERM)
    expect((await sh(`ln ${mnt}/target.txt ${mnt}/hard`)).stderr).toMatch(/Operation not permitted/)
    expect((await sh(`mkfifo ${mnt}/fifo`)).stderr).toMatch(/Function not implemented/)
  })

  it('changes made elsewhere appear once the listing is older than --dir-cache-time', async () => {
    await run(`ls ${mnt} > /dev/null`)
    const client = testClient(emu, { timeScale: 10 })
    try {
      await client.upload(0, [{ name: 'from-elsewhere.txt', size: 5, open: () => Readable.from([Buffer.from('hello')]) }])
    } finally {
      await client.close()
    }
    // The 30-second rule, scaled by 10, plus the 1 s freshness time.
    await new Promise((resolve) => setTimeout(resolve, 3500))
    expect(await run(`cat ${mnt}/from-elsewhere.txt`)).toBe('hello')
  })
})

describe('an upload that finally fails', () => {
  it('stays local, visible and readable, and is reported; never shown as uploaded', async () => {
    const emu = await startEmulator({ dataDir: await tempDir('fail-emu'), rateLimits: false })
    const cacheDir = await tempDir('fail-cache')
    let mount: TestMount | undefined
    try {
      mount = await mountFichfs(emu, { cacheDir, timeScale: 1000, args: ['--write-back', '10ms', '--upload-attempts', '2'] })
      emu.setFaults({ errorRate: 1 })
      await run(`echo precious > ${mount.mountpoint}/precious.txt`)
      let status: { uploads: { failed: number; failures: Array<{ path: string; error: string }> } } | undefined
      for (let i = 0; i < 200; i++) {
        const answer = await requestControl(socketPathFor(mount.mountpoint), { cmd: 'status' })
        status = answer.status as typeof status
        if (status && status.uploads.failed > 0) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(status?.uploads.failed).toBe(1)
      expect(status?.uploads.failures[0]?.path).toBe('/precious.txt')
      expect(await run(`cat ${mount.mountpoint}/precious.txt`)).toBe('precious\n')
      expect(emu.tree().find((entry) => entry.path === '/precious.txt')).toBeUndefined()
      expect(mount.output()).toMatch(/upload failed for good/)
      const shown = await run(`node ${BIN} status ${mount.mountpoint}`)
      expect(shown).toMatch(/Uploads\s+0 pending, 0 uploading, 1 failed/)
      expect(shown).toMatch(/Failed\s+\/precious\.txt: .*HTTP 5\d\d/)
      // At the next mount, with the service back, it goes up.
      emu.setFaults({ errorRate: 0 })
      await mount.stop()
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, timeScale: 1000 })
      await waitForUploads(mount)
      expect(emu.tree().find((entry) => entry.path === '/precious.txt')?.size).toBe(9)
    } finally {
      await stopAllMounts()
      await emu.close()
      for (const dir of [emu.dataDir, cacheDir, mount?.mountpoint ?? '']) if (dir) await removeDir(dir)
    }
  })
})

describe('fsync on a file whose upload keeps failing', () => {
  it('makes one more attempt, then fails with EIO instead of hanging', async () => {
    const emu = await startEmulator({ dataDir: await tempDir('fsyncfail-emu'), rateLimits: false })
    const cacheDir = await tempDir('fsyncfail-cache')
    let mount: TestMount | undefined
    try {
      mount = await mountFichfs(emu, { cacheDir, timeScale: 1000, args: ['--write-back', '10ms', '--upload-attempts', '2'] })
      emu.setFaults({ errorRate: 1 })
      const script = `import os,sys\nfd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT)\nos.write(fd, b'data')\ntry:\n  os.fsync(fd)\n  print('synced')\nexcept OSError as e:\n  print(e.strerror)`
      const result = await sh(`python3 -c "${script.replace(/"/g, '\\"')}" ${mount.mountpoint}/doomed.txt`, { timeoutMs: 60_000 })
      expect(result.stdout.trim()).toBe('Input/output error')
      expect(await run(`cat ${mount.mountpoint}/doomed.txt`)).toBe('data')
    } finally {
      await stopAllMounts()
      await emu.close()
      for (const dir of [emu.dataDir, cacheDir, mount?.mountpoint ?? '']) if (dir) await removeDir(dir)
    }
  })
})
