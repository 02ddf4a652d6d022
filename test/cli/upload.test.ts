/**
 * `fichfs upload`: local files into a folder of the account, without a mount. Rate limits on,
 * and never met. Checked against the emulator's own Whirlpool; the metadata cache learns the
 * files, so `fichfs ls` shows them without listing again.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { trashContent } from '../support/checks.js'
import { removeDir, tempDir } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { at, cliDirs, cliEnv, fichfs, ok, type CliDirs } from './helpers.js'

describe('fichfs upload', () => {
  let seed: string
  let local: string
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  const big = randomBytes(3_000_000)

  beforeAll(async () => {
    seed = await tempDir('upload-seed')
    await writeTree(seed, { files: { 'backup/old.txt': 'old\n' } })
    local = await tempDir('upload-local')
    await writeFile(join(local, 'big.bin'), big)
    await writeFile(join(local, 'notes é.txt'), 'notes\n')
    await writeFile(join(local, 'old.txt'), 'new version\n')
    await writeFile(join(local, 'empty'), '')
    await mkdir(join(local, 'folder'))
    emu = await startEmulator({ dataDir: await tempDir('upload-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    dirs = await cliDirs('upload')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
  })

  afterAll(async () => {
    const floods = emu.stats().floods.total
    await emu.close()
    for (const dir of [seed, local, emu.dataDir, dirs.root]) await removeDir(dir)
    expect(floods).toBe(0)
  })

  it('sends files in one request, shows progress, prints their paths and URLs; ls knows them at once', async () => {
    emu.resetStats()
    const result = ok(await fichfs(['upload', join(local, 'big.bin'), join(local, 'notes é.txt'), '--to', '/backup', ...at(emu)], { env }))
    const lines = result.stdout.trim().split('\n').map((line) => line.split('\t'))
    expect(lines.map(([path]) => path)).toEqual(['/backup/big.bin', '/backup/notes é.txt'])
    expect(lines.every(([, url]) => /^https:\/\/1fichier\.com\/\?\w+$/.test(url ?? ''))).toBe(true)
    expect(result.stderr).toContain('fichfs: uploading to /backup')
    expect(result.stderr).toContain('2 file(s) uploaded (2.86 MiB)')
    const stored = emu.tree().find((entry) => entry.path === '/backup/big.bin')
    expect(stored?.whirlpool).toBe(await whirlpool(big))
    expect(emu.tree().find((entry) => entry.path === '/backup/notes é.txt')?.size).toBe(6)
    const stats = emu.stats()
    expect(stats.upload.requests).toBe(1)
    expect(stats.calls['upload/get_upload_server.cgi']).toBe(1)
    // The cache learned the files: ls lists nothing again.
    const listings = emu.stats().calls['folder/ls.cgi'] ?? 0
    expect(ok(await fichfs(['ls', '/backup', ...at(emu)], { env })).stdout).toContain('big.bin')
    expect(emu.stats().calls['folder/ls.cgi'] ?? 0).toBe(listings)
  })

  it('refuses a name that exists; --replace uploads, then moves the old file to the trash (--no-trash: deletes it)', async () => {
    const refused = await fichfs(['upload', join(local, 'old.txt'), '--to', '/backup', ...at(emu)], { env })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('/backup/old.txt already exists')
    expect(refused.stderr).toContain('--replace')
    emu.resetStats()
    ok(await fichfs(['upload', join(local, 'old.txt'), '--to', '/backup', '--replace', ...at(emu)], { env }))
    const copies = emu.tree().filter((entry) => entry.path === '/backup/old.txt')
    expect(copies.map((entry) => entry.size)).toEqual([12])
    expect(emu.stats().calls['file/mv.cgi']).toBe(1)
    expect(emu.stats().calls['file/rm.cgi']).toBeUndefined()
    expect(trashContent(emu).files).toEqual(['old.txt:4'])
    expect(ok(await fichfs(['trash', 'list', ...at(emu)], { env })).stdout).toMatch(/overwritten +\/backup\/old\.txt$/m)
    ok(await fichfs(['upload', join(local, 'old.txt'), '--to', '/backup', '--replace', '--no-trash', ...at(emu)], { env }))
    expect(emu.stats().calls['file/rm.cgi']).toBe(1)
    expect(emu.tree().filter((entry) => entry.path === '/backup/old.txt').map((entry) => entry.size)).toEqual([12])
    expect(trashContent(emu).files).toEqual(['old.txt:4'])
  })

  it('refuses folders, empty files and missing files before any API call', async () => {
    emu.resetStats()
    for (const [path, words] of [['folder', 'is a folder'], ['empty', '1fichier refuses empty files'], ['missing', 'cannot read']]) {
      const result = await fichfs(['upload', join(local, path as string), ...at(emu)], { env })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(words)
    }
    expect(emu.stats().apiCalls).toBe(0)
  })

  it('an upload whose answer was lost is not sent twice: the command says it may be there and how to check', async () => {
    await writeFile(join(local, 'unanswered.txt'), 'stored, never confirmed\n')
    emu.resetStats()
    emu.setFaults({ lostAnswerRate: 1 })
    try {
      const result = await fichfs(['upload', join(local, 'unanswered.txt'), ...at(emu)], { env })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('1fichier may have stored unanswered.txt, but never confirmed it')
      expect(result.stderr).toContain('fichfs ls /')
    } finally {
      emu.setFaults({ lostAnswerRate: 0 })
    }
    expect(emu.stats().upload.requests).toBe(1)
    expect(emu.tree().filter((entry) => entry.path === '/unanswered.txt')).toHaveLength(1)
  })
})
