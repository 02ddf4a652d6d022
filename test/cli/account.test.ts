/**
 * The account commands through the real binary, against an emulator enforcing 1fichier's rate
 * limits: info, ls (through the metadata cache: a fresh listing costs nothing), link, protect
 * and describe (the emulator sees the change).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { api, whirlpool } from '../emulator/helpers.js'
import { removeDir, tempDir } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { at, cliDirs, cliEnv, fichfs, ok, type CliDirs } from './helpers.js'

describe('info, ls, link, protect, describe', () => {
  let seed: string
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  const urlOf = (path: string) => emu.tree().find((entry) => entry.path === path)?.url as string

  beforeAll(async () => {
    seed = await tempDir('acct-seed')
    await writeTree(seed, { files: { 'hello.txt': 'hello, 1fichier\n', 'docs/readme.txt': 'read me\n', 'docs/deep/leaf.bin': 70_000 }, folders: ['empty'] })
    emu = await startEmulator({ dataDir: await tempDir('acct-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    dirs = await cliDirs('acct')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
    emu.resetStats()
  })

  afterAll(async () => {
    const floods = emu.stats().floods.total
    await emu.close()
    for (const dir of [seed, emu.dataDir, dirs.root]) await removeDir(dir)
    // Checked after the cleanup, so that a failure leaves nothing behind.
    expect(floods).toBe(0)
  })

  // The test's own look at the service, spaced so that it never floods (3 calls per 100 ms at x10).
  const fileInfo = async (url: string) => {
    await new Promise((resolve) => setTimeout(resolve, 250))
    return (await api(emu, 'file/info.cgi', { url })).json as { description: string; pass: number }
  }

  it('info shows the email, offer and storage in human units, or exact JSON', async () => {
    const text = ok(await fichfs(['info', ...at(emu)], { env })).stdout
    expect(text).toMatch(/Account:\s+demo@fichfs\.invalid/)
    expect(text).toMatch(/Offer:\s+Premium/)
    expect(text).toMatch(/Used:\s+68\.\d+ KiB/)
    expect(text).toMatch(/Available:\s+100\.0 GiB of 100\.0 GiB/)
    const json = JSON.parse(ok(await fichfs(['info', '--json', ...at(emu)], { env })).stdout)
    const used = 16 + 8 + 70_000
    expect(json).toMatchObject({ email: 'demo@fichfs.invalid', offer: 1, offerName: 'Premium', usedBytes: used, quotaBytes: 100 * 1024 ** 3, freeBytes: 100 * 1024 ** 3 - used })
    // The second answer came from the cache: 1fichier allows one user/info a minute.
    expect(emu.stats().calls['user/info.cgi']).toBe(1)
  })

  it('ls lists the root, -l adds sizes and flags, --json has URLs and checksums', async () => {
    expect(ok(await fichfs(['ls', ...at(emu)], { env })).stdout).toBe('docs/\nempty/\nhello.txt\n')
    const long = ok(await fichfs(['ls', '-l', '/docs', ...at(emu)], { env })).stdout.split('\n')
    expect(long[0]).toMatch(/^d-- +- \d{4}-\d\d-\d\d \d\d:\d\d deep\/$/)
    expect(long[1]).toMatch(/^--- +8 \d{4}-\d\d-\d\d \d\d:\d\d readme\.txt$/)
    const json = JSON.parse(ok(await fichfs(['ls', '--json', 'docs/deep', ...at(emu)], { env })).stdout)
    const leaf = emu.tree().find((entry) => entry.path === '/docs/deep/leaf.bin')
    expect(json).toEqual([expect.objectContaining({ name: 'leaf.bin', type: 'file', size: 70_000, url: leaf?.url, whirlpool: leaf?.whirlpool, passwordProtected: false })])
    // A path to a file lists that file.
    const one = JSON.parse(ok(await fichfs(['ls', '--json', '/hello.txt', ...at(emu)], { env })).stdout)
    expect(one).toEqual([expect.objectContaining({ name: 'hello.txt', size: 16, whirlpool: await whirlpool('hello, 1fichier\n') })])
  })

  it('a fresh listing costs no API call: ls goes through the metadata cache', async () => {
    const before = emu.stats().apiCalls
    ok(await fichfs(['ls', '-l', '/docs', ...at(emu)], { env }))
    ok(await fichfs(['ls', '/', ...at(emu)], { env }))
    ok(await fichfs(['link', '/docs/deep/leaf.bin', ...at(emu)], { env }))
    expect(emu.stats().apiCalls).toBe(before)
    // Stale on purpose, once the folders' gates (30 s, 3 s at x10) allow it: the root and
    // /docs are listed again.
    await new Promise((resolve) => setTimeout(resolve, 3500))
    const listings = emu.stats().calls['folder/ls.cgi'] ?? 0
    ok(await fichfs(['ls', '/docs', '--dir-cache-time', '0', ...at(emu)], { env }))
    expect(emu.stats().calls['folder/ls.cgi']).toBe(listings + 2)
    // Right after, the gates are held: the stale listings are served rather than flooding.
    ok(await fichfs(['ls', '/docs', '--dir-cache-time', '0', ...at(emu)], { env }))
    expect(emu.stats().calls['folder/ls.cgi']).toBe(listings + 2)
  })

  it('ls of a missing path says what PATH means', async () => {
    const result = await fichfs(['ls', '/nope/deeper', ...at(emu)], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('no such file or folder in the account: /nope/deeper')
    expect(result.stderr).toContain('path in the 1fichier account')
  })

  it('link prints the 1fichier URL of a file, and refuses a folder', async () => {
    const out = ok(await fichfs(['link', 'docs/readme.txt', ...at(emu)], { env })).stdout
    expect(out).toBe(`${urlOf('/docs/readme.txt')}\n`)
    expect(out).toMatch(/^https:\/\/1fichier\.com\/\?[a-z0-9]{10}\n$/)
    const folder = await fichfs(['link', '/docs', ...at(emu)], { env })
    expect(folder.code).toBe(1)
    expect(folder.stderr).toContain('/docs is a folder')
  })

  it('protect sets a download password from a 0600 file, and --clear removes it', async () => {
    const url = urlOf('/hello.txt')
    const passwordFile = join(dirs.root, 'password')
    writeFileSync(passwordFile, 'open sesame\n', { mode: 0o600 })
    const set = ok(await fichfs(['protect', '/hello.txt', '--password-file', passwordFile, ...at(emu)], { env }))
    expect(set.stdout).toContain('/hello.txt now asks for a password')
    expect((await fileInfo(url)).pass).toBe(1)
    // The emulator now wants that password for a download link.
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect((await api(emu, 'download/get_token.cgi', { url })).status).toBe(403)
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect((await api(emu, 'download/get_token.cgi', { url, pass: 'open sesame' })).json.status).toBe('OK')
    // ls -l shows the flag from the cache, without listing again.
    expect(ok(await fichfs(['ls', '-l', '/hello.txt', ...at(emu)], { env })).stdout).toMatch(/^-p- /)

    ok(await fichfs(['protect', '/hello.txt', '--clear', ...at(emu)], { env }))
    expect((await fileInfo(url)).pass).toBe(0)

    ok(await fichfs(['protect', '/hello.txt', '--password-stdin', ...at(emu)], { env, input: 'from stdin 123\n' }))
    expect((await fileInfo(url)).pass).toBe(1)
    ok(await fichfs(['protect', '/hello.txt', '--clear', ...at(emu)], { env }))
  })

  it('protect refuses a password as an argument, a readable password file, a short password', async () => {
    const asArgument = await fichfs(['protect', '/hello.txt', '--password', 'hunter2222', ...at(emu)], { env })
    expect(asArgument.code).toBe(1)
    expect(asArgument.stderr).toContain('never takes a password as a command-line argument')
    expect(asArgument.stderr).toContain('--password-file')
    const positional = await fichfs(['protect', '/hello.txt', 'hunter2222', ...at(emu)], { env })
    expect(positional.code).toBe(1)
    expect(positional.stderr).toContain('never takes a password as a command-line argument')
    expect(positional.stderr).not.toContain('hunter2222')

    const loose = join(dirs.root, 'loose-password')
    writeFileSync(loose, 'open sesame\n', { mode: 0o644 })
    const readable = await fichfs(['protect', '/hello.txt', '--password-file', loose, ...at(emu)], { env })
    expect(readable.code).toBe(1)
    expect(readable.stderr).toContain(`chmod 600 ${loose}`)

    const short = await fichfs(['protect', '/hello.txt', '--password-stdin', ...at(emu)], { env, input: 'abc\n' })
    expect(short.code).toBe(1)
    expect(short.stderr).toContain('at least 6 characters')

    const noTerminal = await fichfs(['protect', '/hello.txt', ...at(emu)], { env })
    expect(noTerminal.code).toBe(1)
    expect(noTerminal.stderr).toContain('--password-stdin')
    expect((await fileInfo(urlOf('/hello.txt'))).pass).toBe(0)
  })

  it('describe sets, shows and clears a description', async () => {
    const url = urlOf('/docs/readme.txt')
    ok(await fichfs(['describe', '/docs/readme.txt', 'Notes for the team', ...at(emu)], { env }))
    expect((await fileInfo(url)).description).toBe('Notes for the team')
    expect(ok(await fichfs(['describe', '/docs/readme.txt', ...at(emu)], { env })).stdout).toBe('Notes for the team\n')
    const cleared = ok(await fichfs(['describe', '/docs/readme.txt', '', ...at(emu)], { env }))
    expect(cleared.stdout).toContain('cleared')
    expect((await fileInfo(url)).description).toBe('')
  })
})
