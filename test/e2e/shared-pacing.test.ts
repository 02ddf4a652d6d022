/**
 * Two mounts of one account with different cache dirs (two mountpoints) pace as one client:
 * their gates are in one file for every fichfs process of the user, keyed by service and
 * account, so walking the whole tree from both at once meets no flood (1fichier counts calls
 * per IP, and listings per folder, whoever makes them).
 */
import { describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { mountFichfs, run, tempDirsForFile } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

const dir = tempDirsForFile()

const FOLDERS = 8

describe('two mounts of one account, two cache dirs', () => {
  it('ls -lR from both at once: every folder listed by each, no flood', async () => {
    const seed = await dir('pacing-seed')
    const files: Record<string, string> = {}
    for (let i = 0; i < FOLDERS; i++) files[`folder-${i}/file.txt`] = `file ${i}\n`
    await writeTree(seed, { files })
    // x2: the pacer's margin under 3 calls/s (100 ms over four calls) stays above the jitter
    // of a loaded machine (x3 met one flood in four runs at a load of 8 on 2 cores). The second
    // mount waits 16 s for each folder's listing gate (the first one took it), its root's too.
    const emu = await startEmulator({ dataDir: await dir('pacing-emu'), timeScale: 2, seedDir: seed })
    try {
      // Each mounts and walks the whole tree at once.
      const walk = async (label: string) => {
        const mount = await mountFichfs(emu, { cacheDir: await dir(label), timeScale: 2 })
        return { mount, listing: await run(`ls -lR ${mount.mountpoint}`, { timeoutMs: 120_000 }) }
      }
      const [a, b] = await Promise.all([walk('pacing-cache-a'), walk('pacing-cache-b')])
      for (const { listing } of [a, b]) expect(listing.match(/file\.txt/g)).toHaveLength(FOLDERS)
      // Each mount listed the root and each folder once (its own cache), and no call flooded.
      expect(emu.stats().calls['folder/ls.cgi'], JSON.stringify(emu.stats().floods)).toBe(2 * (FOLDERS + 1))
      expectNoFloods(emu)
      expect(await a.mount.stop()).toBe(0)
      expect(await b.mount.stop()).toBe(0)
    } finally {
      await emu.close()
    }
  })
})
