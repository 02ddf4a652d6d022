/**
 * `fichfs verify LOCAL REMOTE`, through the real binary, against an emulator with its rate
 * limits on: identical trees (0 downloads), a changed byte at equal size, missing, extra and
 * duplicate files, names 1fichier stores encoded, the local hash cache, the listing budget, a
 * folder inside a running mount, the progress bar on a terminal, and the exit statuses.
 */
import { createReadStream } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FileRow } from '../../src/cache/metadata-store.js'
import { exitStatus, formatFinding } from '../../src/cli/commands/verify.js'
import { verifyTrees, type Finding } from '../../src/cli/verify.js'
import { encodeName } from '../../src/client/names.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { testClient } from '../support/client.js'
import { mountFichfs, removeDir, run, sh, stopAllMounts, tempDir } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { at, cliDirs, cliEnv, fichfs, type CliDirs } from './helpers.js'

/** The local tree (the original). Names with characters 1fichier refuses are stored encoded. */
const TREE = {
  'photos/a.jpg': 200_000,
  'photos/2024/b.jpg': 150_000,
  'photos/2024/c.png': 3_000,
  'docs/notes.txt': 'notes\n',
  [`odd/say "hi" to 'Bob' <now> for $5.txt`]: 'quoted\n',
  'odd/ leading and trailing .txt ': 'spaces\n',
  'odd/back\\slash `tick`.txt': 'escapes\n',
}
/** Folders of the local tree, the root included: the listings of a cold verify. */
const FOLDERS = ['', 'photos', 'photos/2024', 'docs', 'odd']

/** Copy a local tree into `target` under the names the service stores (rclone's encoding). */
async function copyEncoded(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true })
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const to = join(target, encodeName(entry.name))
    if (entry.isDirectory()) await copyEncoded(join(source, entry.name), to)
    else await copyFile(join(source, entry.name), to)
  }
}

interface Report {
  identical: boolean
  findings: Array<{ kind: string; path: string; type: string; reason?: string; copies?: number; identicalCopies?: number; pending?: boolean }>
  counts: Record<string, number>
  local: { files: number }
  hashed: { files: number; bytes: number; fromCache: number }
  listings: number
}

describe('fichfs verify', () => {
  let local: string
  let seed: string
  let emu: Emulator
  // One cache for every run, as on a user's machine: the pacer's gates live in it, so runs a
  // few seconds apart never list one folder within 1fichier's 30 s (scaled) of each other.
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  const roots: string[] = []

  /** `through`: REMOTE is inside a mount, whose endpoint verify must find by itself. */
  async function verify(args: string[], env: NodeJS.ProcessEnv, through?: 'mount'): Promise<{ code: number | null; report: Report; stdout: string; stderr: string }> {
    const account = through === 'mount' ? ['--time-scale', '10'] : at(emu)
    const result = await fichfs(['verify', ...args, '--json', ...account], { env })
    let report: Report
    try {
      report = JSON.parse(result.stdout) as Report
    } catch {
      throw new Error(`no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
    }
    return { code: result.code, report, stdout: result.stdout, stderr: result.stderr }
  }

  beforeAll(async () => {
    local = await tempDir('verify-local')
    await writeTree(local, { files: TREE })
    seed = await tempDir('verify-seed')
    // One account folder per scenario, each a copy of the local tree, then changed.
    for (const name of ['same', 'changed', 'gaps', 'dups', 'mounted']) await copyEncoded(local, join(seed, name))
    const changed = join(seed, 'changed/photos/a.jpg')
    const bytes = await readFile(changed)
    bytes[1234] = (bytes[1234] as number) ^ 0xff
    await writeFile(changed, bytes)
    await rm(join(seed, 'gaps/photos/2024/b.jpg'))
    await writeFile(join(seed, 'gaps/docs/extra.txt'), 'only on 1fichier\n')
    await mkdir(join(seed, 'gaps/old'), { recursive: true })
    await writeFile(join(seed, 'gaps/old/x.txt'), 'x\n')
    // A symbolic link cannot be on a mount, so it is not part of the backup: skipped, and said so.
    await symlink('notes.txt', join(local, 'docs/link'))
    emu = await startEmulator({ dataDir: await tempDir('verify-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    // A second file named photos/a.jpg in /dups (1fichier allows it), with other content.
    const folder = emu.tree().find((entry) => entry.path === '/dups/photos')
    const other = join(await tempDir('verify-dup'), 'a.jpg')
    roots.push(join(other, '..'))
    await writeFile(other, 'another photo with the same name\n')
    const client = testClient(emu, { timeScale: 10 })
    await client.upload(folder?.folderId as number, [{ name: 'a.jpg', size: 33, path: other, open: () => createReadStream(other) }])
    await client.close()
    dirs = await cliDirs('verify')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [local, seed, emu.dataDir, dirs.root, ...roots]) await removeDir(dir)
  })

  it('identical trees: exit 0, nothing downloaded, one listing per folder; a second run lists and hashes nothing', async () => {
    emu.resetStats()
    const cold = await verify([local, '/same'], env)
    expect(cold.report.findings).toEqual([])
    expect(cold.code).toBe(0)
    expect(cold.report.identical).toBe(true)
    expect(cold.report.counts.identical).toBe(Object.keys(TREE).length)
    expect(cold.report.hashed).toEqual({ files: Object.keys(TREE).length, bytes: 353_000 + 6 + 7 + 7 + 8, fromCache: 0 })
    const stats = emu.stats()
    expect(stats.download.requests).toBe(0)
    expect(stats.calls['download/get_token.cgi'] ?? 0).toBe(0)
    // Budget: the folders compared, plus the account root to find /same; nothing else.
    expect(stats.calls['folder/ls.cgi']).toBe(FOLDERS.length + 1)
    expect(cold.report.listings).toBe(FOLDERS.length + 1)
    expect(stats.apiCalls).toBe(FOLDERS.length + 1)
    expect(cold.stderr).toContain('fichfs: identical: 7 identical')
    expect(cold.stderr).toContain('fichfs: skipped docs/link (not a file or folder)')

    const warm = await verify([local, '/same'], env)
    expect(warm.code).toBe(0)
    expect(warm.report.listings).toBe(0)
    expect(warm.report.hashed).toEqual({ files: 0, bytes: 0, fromCache: Object.keys(TREE).length })
    expect(emu.stats().apiCalls).toBe(FOLDERS.length + 1)

    // A changed file (new mtime) is hashed again, and only that one.
    await writeFile(join(local, 'docs/notes.txt'), 'notes\n')
    const touched = await verify([local, '/same'], env)
    expect(touched.code).toBe(0)
    expect(touched.report.hashed).toMatchObject({ files: 1, bytes: 6 })
    const rehashed = await verify([local, '/same', '--rehash'], env)
    expect(rehashed.report.hashed.files).toBe(Object.keys(TREE).length)
  })

  it('one byte changed at equal size is found by checksum: exit 1', async () => {
    const result = await verify([local, '/changed'], env)
    expect(result.code).toBe(1)
    expect(result.report.findings).toEqual([
      expect.objectContaining({ kind: 'differ', path: 'photos/a.jpg', type: 'file', reason: 'checksum' }),
    ])
    const text = await fichfs(['verify', local, '/changed', ...at(emu)], { env })
    expect(text.code).toBe(1)
    expect(text.stdout).toBe('differ    photos/a.jpg (same size, different Whirlpool checksum)\n')
    expect(text.stderr).toContain('fichfs: differences found: 6 identical, 1 different')
  })

  it('missing and extra files and folders; --one-way ignores the extra ones', async () => {
    const result = await verify([local, '/gaps'], env)
    expect(result.code).toBe(1)
    expect(result.report.findings).toEqual([
      expect.objectContaining({ kind: 'extra', path: 'docs/extra.txt', type: 'file' }),
      expect.objectContaining({ kind: 'extra', path: 'old', type: 'folder' }),
      expect.objectContaining({ kind: 'missing', path: 'photos/2024/b.jpg', type: 'file' }),
    ])
    // The extra folder is reported, not listed.
    expect(emu.tree().some((entry) => entry.path === '/gaps/old/x.txt')).toBe(true)
    expect(result.report.listings).toBe(FOLDERS.length)

    const oneWay = await verify([local, '/gaps', '--one-way'], env)
    expect(oneWay.code).toBe(1)
    expect(oneWay.report.findings.map((finding) => finding.kind)).toEqual(['missing'])
    // A local folder missing on 1fichier is one finding, with its file count.
    const folder = await verify([join(local, 'photos'), '/gaps/docs', '--one-way'], env)
    expect(folder.report.findings).toEqual([
      expect.objectContaining({ kind: 'missing', path: '2024', type: 'folder', files: 2 }),
      expect.objectContaining({ kind: 'missing', path: 'a.jpg', type: 'file' }),
    ])
    const exact = await verify([join(local, 'docs'), '/gaps/docs', '--one-way'], env)
    expect(exact.code).toBe(0)
  })

  it('two files of one name on 1fichier: reported as a duplicate, with how many copies are identical', async () => {
    const result = await verify([local, '/dups'], env)
    expect(result.code).toBe(1)
    expect(result.report.findings).toEqual([
      expect.objectContaining({ kind: 'duplicate', path: 'photos/a.jpg', copies: 2, identicalCopies: 1 }),
    ])
    // Not also an "extra" under the name the mount shows the second copy with (a (id).jpg).
    expect(result.report.counts.extra).toBe(0)
  })

  it('names 1fichier refuses are compared through the mount\'s encoding', async () => {
    const stored = emu.tree().filter((entry) => entry.path.startsWith('/same/odd/')).map((entry) => entry.path)
    expect(stored).toContain('/same/odd/say ＂hi＂ to ＇Bob＇ ＜now＞ for ＄5.txt')
    expect(stored).toContain('/same/odd/␠leading and trailing .txt␠')
    const result = await verify([join(local, 'odd'), '/same/odd'], env)
    expect(result.report.findings).toEqual([])
    expect(result.report.counts.identical).toBe(3)
    expect(result.code).toBe(0)
  })

  it('errors exit 2: a remote path that does not exist, a local one that is not a folder', async () => {
    const missing = await fichfs(['verify', local, '/no/such/folder', ...at(emu)], { env })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no such file or folder in the account: /no/such/folder')
    const notFolder = await fichfs(['verify', join(local, 'docs/notes.txt'), '/same', ...at(emu)], { env })
    expect(notFolder.code).toBe(2)
    expect(notFolder.stderr).toContain('is not a folder')
    const help = await fichfs(['--help'], { env })
    expect(help.stdout).toMatch(/fichfs verify <local> <remote>\s+Compare a local folder with an account folder/)
  })

  it('shows a progress bar on a terminal', async () => {
    const command = ['node', JSON.stringify(join(import.meta.dirname, '../../bin/fichfs.js')), 'verify', JSON.stringify(local), '/same', '--rehash', ...at(emu)].join(' ')
    const result = await sh(`script -qec ${JSON.stringify(command)} /dev/null`, { env })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('\r\x1b[2Kfichfs: hashing [')
    expect(result.stdout).toContain('fichfs: identical: 7 identical')
  })

  it('on a running mount\'s folder: the mount\'s account and cache (no listing after the mount listed), pending files reported', async () => {
    const mount = await mountFichfs(emu, { cacheDir: dirs.cache, env, args: ['--write-back', '1h'] })
    await run(`ls -R ${JSON.stringify(join(mount.mountpoint, 'mounted'))} > /dev/null`)
    const before = emu.stats().calls['folder/ls.cgi'] ?? 0
    const result = await verify([local, join(mount.mountpoint, 'mounted')], env, 'mount')
    expect(result.code).toBe(0)
    expect(result.report.listings).toBe(0)
    expect(emu.stats().calls['folder/ls.cgi'] ?? 0).toBe(before)

    await writeFile(join(mount.mountpoint, 'mounted/docs/new.txt'), 'written in the mount\n')
    const pending = await verify([local, join(mount.mountpoint, 'mounted')], env, 'mount')
    expect(pending.code).toBe(1)
    expect(pending.report.findings).toEqual([expect.objectContaining({ kind: 'extra', path: 'docs/new.txt', pending: true })])

    const inside = await fichfs(['verify', join(mount.mountpoint, 'mounted'), '/same', ...at(emu)], { env })
    expect(inside.code).toBe(2)
    expect(inside.stderr).toContain('FICHFS_LOCAL_IN_MOUNT')
    await mount.stop()
    await removeDir(mount.mountpoint)
  })
})

describe('verify: what cannot be checked (the comparison alone)', () => {
  const file = (name: string, size: number, checksum: string | null): FileRow => ({
    url: `https://1fichier.com/?${name.replace(/\W/g, '')}`, folderId: 0, name, displayName: name, size, uploadedAt: 0,
    checksum, contentType: null, passwordProtected: false,
  })

  it('a file without a checksum on 1fichier, and one that cannot be read, exit 2', async () => {
    const root = await tempDir('verify-unit')
    await writeTree(root, { files: { 'a.txt': 'aaa', 'b.txt': 'bbb' } })
    const remote = {
      listingCalls: 0,
      view: async () => ({ folders: [], local: [], remote: [file('a.txt', 3, null), file('b.txt', 3, 'f'.repeat(128))] }),
    }
    const report = await verifyTrees({
      localRoot: root, folderId: 0, remote,
      hashes: { lookup: () => undefined, remember: () => undefined },
      hashFile: async () => {
        throw new Error('EIO: i/o error')
      },
    })
    await removeDir(root)
    expect(report.findings).toEqual([
      expect.objectContaining({ kind: 'unchecked', path: 'a.txt' }),
      expect.objectContaining({ kind: 'error', path: 'b.txt', message: 'cannot read it: EIO: i/o error' }),
    ])
    expect(exitStatus(report)).toBe(2)
    expect(formatFinding(report.findings[0] as Finding)).toBe('unchecked a.txt (no checksum on 1fichier; the sizes match)\n')
  })
})
