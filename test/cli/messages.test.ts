/**
 * Messages that say what is wrong, and where: an unreadable file to upload (before any API
 * call), a bad --endpoint, a mountpoint that is not empty or already mounted, a runtime dir
 * someone else could have planted, and retry log lines that name the error.
 */
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { mountFichfs, removeDir, stopAllMounts, tempDir } from '../support/mount.js'
import { at, cliDirs, cliEnv, fichfs, type CliDirs } from './helpers.js'

const isRoot = process.getuid?.() === 0
const NOBODY = 65534

describe('messages', () => {
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  const extra: string[] = []

  beforeAll(async () => {
    emu = await startEmulator({ dataDir: await tempDir('messages-emu'), timeScale: 10 })
    dirs = await cliDirs('messages')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
  })
  afterAll(async () => {
    await stopAllMounts()
    await emu.close()
    for (const dir of [emu.dataDir, dirs.root, ...extra]) await removeDir(dir)
  })

  it('--endpoint that is not a URL names the option', async () => {
    const result = await fichfs(['ls', '--endpoint', 'foo'], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('--endpoint "foo" is not an http(s) URL')
    expect(result.stderr).toContain('FICHFS_BAD_ENDPOINT')
    const mount = await fichfs(['mount', join(dirs.root, 'mnt'), '--endpoint', 'ftp://x'], { env })
    expect(mount.stderr).toContain('--endpoint "ftp://x" is not an http(s) URL')
  })

  it('upload of a file the user cannot read says "permission denied" and the path, before any API call', async (ctx) => {
    if (!isRoot) return ctx.skip()
    // Run as nobody, with dirs nobody may use; the file is root's, mode 0600.
    const root = await tempDir('messages-nobody')
    extra.push(root)
    chmodSync(root, 0o777)
    const secret = join(root, 'secret.bin')
    writeFileSync(secret, 'not yours\n', { mode: 0o600 })
    const home = join(root, 'home')
    mkdirSync(home)
    chownSync(home, NOBODY, NOBODY)
    const nobodyEnv = { ...env, HOME: home, FICHFS_CONFIG_DIR: join(home, 'config'), FICHFS_CACHE_DIR: join(home, 'cache'), FICHFS_RUNTIME_DIR: join(home, 'run') }
    emu.resetStats()
    const result = await fichfs(['upload', secret, ...at(emu)], { env: nobodyEnv, asUser: NOBODY })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`permission denied: cannot read ${secret}`)
    expect(result.stderr).toContain('FICHFS_UNREADABLE')
    expect(result.stderr).not.toMatch(/connection failed|FICHFS_NETWORK/)
    expect(emu.stats().apiCalls).toBe(0)
  })

  it('mount on a directory that is not empty, or already mounted, says so (not "Is FUSE installed?")', async () => {
    const full = await tempDir('messages-full')
    extra.push(full)
    writeFileSync(join(full, 'something.txt'), 'here\n')
    const notEmpty = await fichfs(['mount', full, ...at(emu)], { env })
    expect(notEmpty.code).toBe(1)
    expect(notEmpty.stderr).toContain(`${full} is not empty`)
    expect(notEmpty.stderr).toContain('FICHFS_MOUNTPOINT_NOT_EMPTY')
    expect(notEmpty.stderr).not.toMatch(/Is FUSE installed/)

    const mount = await mountFichfs(emu, { cacheDir: await tempDir('messages-cache') })
    extra.push(mount.cacheDir)
    const busy = await fichfs(['mount', mount.mountpoint, ...at(emu), '--cache-dir', await tempDir('messages-cache2')], { env })
    expect(busy.code).toBe(1)
    expect(busy.stderr).toContain(`${mount.mountpoint} is already a mount point (fuse.fichfs)`)
    expect(busy.stderr).toMatch(/fichfs unmount/)
    expect(busy.stderr).not.toMatch(/Is FUSE installed/)
    expect(await mount.stop()).toBe(0)
  })

  it('a runtime dir that another user owns, or anyone can write, is refused; a symlink too', async (ctx) => {
    const planted = join(dirs.root, 'planted')
    mkdirSync(planted)
    chmodSync(planted, 0o777)
    const open = await fichfs(['status'], { env: { ...env, FICHFS_RUNTIME_DIR: planted } })
    expect(open.code).toBe(1)
    expect(open.stderr).toContain(`${planted} can be written by other users (mode 777)`)
    expect(open.stderr).toContain('FICHFS_RUNTIME_DIR_UNSAFE')

    const link = join(dirs.root, 'link')
    symlinkSync(dirs.runtime, link)
    const linked = await fichfs(['status'], { env: { ...env, FICHFS_RUNTIME_DIR: link } })
    expect(linked.code).toBe(1)
    expect(linked.stderr).toContain(`${link} is not a directory (a symbolic link?)`)

    if (!isRoot) return ctx.skip()
    chownSync(planted, NOBODY, NOBODY)
    chmodSync(planted, 0o700)
    const foreign = await fichfs(['status'], { env: { ...env, FICHFS_RUNTIME_DIR: planted } })
    expect(foreign.code).toBe(1)
    expect(foreign.stderr).toContain(`${planted} belongs to another user (uid ${NOBODY})`)
    // The mount refuses it before mounting anything.
    const mountpoint = join(dirs.root, 'never-mounted')
    const mount = await fichfs(['mount', mountpoint, ...at(emu), '--cache-dir', dirs.cache], { env: { ...env, FICHFS_RUNTIME_DIR: planted } })
    expect(mount.code).toBe(1)
    expect(mount.stderr).toContain('FICHFS_RUNTIME_DIR_UNSAFE')
  })

  it('retry log lines name the error', async () => {
    const down = await startEmulator({ dataDir: await tempDir('messages-down'), timeScale: 10 })
    extra.push(down.dataDir)
    await down.close()
    const result = await fichfs(['ls', '-v', '--endpoint', down.apiBase, '--time-scale', '10'], { env: cliEnv(dirs, { FICHFS_API_KEY: down.apiKey }) })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/folder\/ls\.cgi failed \(folder\/ls\.cgi: connection failed \(ECONNREFUSED\)\); retrying/)
  })
})
