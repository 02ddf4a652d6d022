/**
 * Download connections over a link that caps each connection (the emulator's per-body
 * bandwidth): one file read alone stripes its read-ahead over parallel lanes (more than one
 * connection, 8 at most), and many files read at once never hold more than `--connections`
 * (12 by default) download bodies open at the emulator, whatever the number of files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, type TestMount } from '../support/mount.js'
import { writeTree, type TreeSpec } from '../support/tree.js'

const FILES = 24
const SPEC: TreeSpec = {
  files: {
    'alone/big.bin': 40 << 20,
    ...Object.fromEntries(Array.from({ length: FILES }, (_, i) => [`many/f${String(i).padStart(2, '0')}.bin`, (3 << 20) + i * 4099])),
  },
}

describe('download connections are bounded', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount

  beforeAll(async () => {
    seed = await tempDir('seed')
    await writeTree(seed, SPEC)
    // 8 MB/s per download body: one connection is slow, several in parallel are not.
    emu = await startEmulator({ dataDir: await tempDir('emu'), seedDir: seed, timeScale: 10, faults: { bandwidthBytesPerSec: 8e6 } })
    cacheDir = await tempDir('cache')
    mount = await mountFichfs(emu, { cacheDir })
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    await removeDir(seed)
    await removeDir(emu.dataDir)
    await removeDir(cacheDir)
  })

  it('one file read alone stripes over several connections, at most 8, each byte once', async () => {
    emu.resetStats()
    await run(`cmp ${seed}/alone/big.bin ${mount.mountpoint}/alone/big.bin`, { timeoutMs: 120_000 })
    const stats = emu.stats().download
    expect(stats.maxActive).toBeGreaterThan(1)
    expect(stats.maxActive).toBeLessThanOrEqual(8)
    expect(stats.bytes).toBeLessThanOrEqual(1.01 * (40 << 20))
  })

  it(`${FILES} files read at once never hold more than 12 download connections`, async () => {
    emu.resetStats()
    const readers = Array.from({ length: FILES }, (_, i) => {
      const name = `many/f${String(i).padStart(2, '0')}.bin`
      return `cmp ${seed}/${name} ${mount.mountpoint}/${name} &`
    })
    await run(`${readers.join('\n')}\nfor job in $(jobs -p); do wait $job || exit 1; done`, { timeoutMs: 180_000 })
    const stats = emu.stats().download
    expect(stats.maxActive).toBeGreaterThan(1)
    expect(stats.maxActive).toBeLessThanOrEqual(12)
    const total = Object.entries(SPEC.files).filter(([path]) => path.startsWith('many/')).reduce((sum, [, size]) => sum + (size as number), 0)
    // Striping cuts each file's first long lane: the host may have sent a chunk past the cut.
    expect(stats.bytes).toBeLessThanOrEqual(1.05 * total)
  })
})
