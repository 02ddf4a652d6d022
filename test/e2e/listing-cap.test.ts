/**
 * Folders at 1fichier's 5,000-result listing cap (no pagination; the emulator truncates the same
 * way, oldest first): no file fichfs knows vanishes from the view, the user is told (one log
 * warning per folder, `fichfs status`), and a file created in such a folder stays visible.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { formatStatus } from '../../src/cli/commands/status.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { testClient } from '../support/client.js'
import { mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'

const CAP = 5000
const FILES = 5100
const WARNING = 'listing cap'

describe('folders over the 5,000-result listing cap', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  const status = async () => (await requestControl(socketPathFor(mnt), { cmd: 'status' })).status as Record<string, unknown>
  const count = async (folder: string) => Number((await run(`ls -f ${mnt}/${folder} | grep -vc '^\\.\\.\\?$'`)).trim())
  // The emulator runs at time scale 10: a folder may be listed again after 3 s.
  const relist = () => new Promise((resolve) => setTimeout(resolve, 3200))
  const remount = async () => {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--dir-cache-time', '1s'] })
  }

  beforeAll(async () => {
    seed = await tempDir('cap-seed')
    await mkdir(join(seed, 'seeded'))
    for (let i = 0; i < FILES; i++) await writeFile(join(seed, 'seeded', `s${String(i).padStart(4, '0')}.txt`), `${i}\n`)
    emu = await startEmulator({ dataDir: await tempDir('cap-emu'), seedDir: seed, timeScale: 10 })
    cacheDir = await tempDir('cap-cache')
    mount = await mountFichfs(emu, { cacheDir, args: ['--dir-cache-time', '1s'] })
    mnt = mount.mountpoint
  }, 120_000)

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  it('a seeded folder over the cap shows what the listing gave, and says plainly what may be missing', async () => {
    expect(emu.tree().filter((entry) => entry.path.startsWith('/seeded/'))).toHaveLength(FILES)
    expect(await count('seeded')).toBe(CAP)
    const caps = (await status()).listingCaps
    expect(caps).toEqual([{ path: '/seeded', listed: CAP, counted: FILES, knownFiles: CAP, knownFolders: 0 }])
    expect(formatStatus(await status())).toMatch(
      /Listing cap +\/seeded: over 1fichier's 5000-result listing cap \(a listing had 5000\); 1fichier counts 5100 files, the mount shows 5000: 100 file\(s\) uploaded elsewhere are missing from it/)
    expect(mount.output().split('\n').filter((line) => line.includes(WARNING) && line.includes('/seeded'))).toHaveLength(1)
  })

  it('a file created there stays visible after the folder is listed again; the warning is not repeated', async () => {
    await run(`echo new > ${mnt}/seeded/new.txt`)
    await waitForUploads(mount)
    // On 1fichier it is the 5,101st file: beyond what a listing returns.
    expect(emu.tree().filter((entry) => entry.path.startsWith('/seeded/'))).toHaveLength(FILES + 1)
    await relist()
    expect(await count('seeded')).toBe(CAP + 1)
    expect(await run(`cat ${mnt}/seeded/new.txt`)).toBe('new\n')
    await remount()
    expect(await count('seeded')).toBe(CAP + 1)
    await relist()
    expect(await count('seeded')).toBe(CAP + 1)
    expect(mount.output().split('\n').filter((line) => line.includes(WARNING))).toHaveLength(1)
    expect((await status()).listingCaps).toMatchObject([{ path: '/seeded', counted: FILES + 1, knownFiles: CAP + 1 }])
  })

  it('a known file deleted by another tool stays visible there (the listing cannot tell); a read fails and forgets it', async () => {
    const gone = emu.tree().find((entry) => entry.path === '/seeded/s0001.txt')
    await testClient(emu).removeFiles([gone?.url as string])
    await relist()
    // The listing now reaches one file further (s5000), and s0001 is still shown.
    expect(await count('seeded')).toBe(CAP + 2)
    expect((await sh(`cat ${mnt}/seeded/s0001.txt`)).stderr).toMatch(/No such file or directory/)
    expect(await count('seeded')).toBe(CAP + 1)
    expect(await run(`cat ${mnt}/seeded/s5000.txt`)).toBe('5000\n')
  })

  it('5,100 files created through the mount all stay visible when a listing returns 5,000', async () => {
    // Four writers at once: each file costs several FUSE round trips, which overlap.
    await run(`mkdir ${mnt}/made && cd ${mnt}/made && seq 1 ${FILES} | xargs -P 4 -n 200 bash -c 'for i; do echo $i > m$i.txt; done' _`, { timeoutMs: 300_000 })
    await waitForUploads(mount, 300_000)
    const made = () => emu.tree().filter((entry) => entry.path.startsWith('/made/'))
    expect(made()).toHaveLength(FILES)
    // 500 files per upload request.
    expect(emu.stats().upload.requests).toBeLessThanOrEqual(Math.ceil(FILES / 500) + 2)
    await remount()
    await relist()
    expect(await count('made')).toBe(FILES)
    expect(await run(`cat ${mnt}/made/m${FILES}.txt`)).toBe(`${FILES}\n`)
    expect((await status()).listingCaps).toContainEqual({ path: '/made', listed: CAP, counted: FILES, knownFiles: FILES, knownFolders: 0 })
  }, 400_000)
})
