/**
 * An option given twice takes its last value (yargs' usual rule), for every command: the rule
 * is set once on the root parser, and these runs check it on commands of each kind (account
 * commands, mount, the emulator, status), that counted flags (-v -v) and lists of files still
 * work, and that the first value is really ignored (its directory is never created).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, mountFichfs, removeDir, run, stopAllMounts, tempDir } from '../support/mount.js'
import { at, cliDirs, cliEnv, fichfs, ok, type CliDirs } from './helpers.js'

describe('options given twice', () => {
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    emu = await startEmulator({ dataDir: await tempDir('twice-emu'), timeScale: 10 })
    dirs = await cliDirs('twice')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
  })

  afterAll(async () => {
    await stopAllMounts()
    try {
      expectNoFloods(emu)
    } finally {
      await emu.close()
      for (const dir of [emu.dataDir, dirs.root]) await removeDir(dir)
    }
  })

  it('account commands (info, ls, upload) take the last --cache-dir, --to, --dir-cache-time', async () => {
    // Every run uses the `last` cache: its shared pacer keeps the runs within the rate limits.
    const first = join(dirs.root, 'first-cache')
    const last = join(dirs.root, 'last-cache')
    const twice = ['--cache-dir', first, '--cache-dir', last, ...at(emu)]
    expect(JSON.parse(ok(await fichfs(['info', '--json', '--json', ...twice], { env })).stdout)).toMatchObject({ email: expect.any(String) })
    await writeFile(join(dirs.root, 'a.txt'), 'a\n')
    await writeFile(join(dirs.root, 'b.txt'), 'b\n')
    ok(await fichfs(['upload', join(dirs.root, 'a.txt'), join(dirs.root, 'b.txt'), '--to', '/nowhere', '--to', '/', ...twice], { env }))
    expect(emu.tree().map((entry) => entry.path).sort()).toEqual(['/a.txt', '/b.txt'])
    // Counted flags still count: -v -v is debug.
    const listing = ok(await fichfs(['ls', '/', '-v', '-v', '--dir-cache-time', '1s', '--dir-cache-time', '1h', ...twice], { env }))
    expect(listing.stdout).toBe('a.txt\nb.txt\n')
    expect(listing.stderr).toContain('account opened')
    expect(existsSync(first)).toBe(false)
    expect(existsSync(last)).toBe(true)
  })

  it('mount takes the last --cache-dir and --upload-attempts', async () => {
    // The cache of the runs above: its pacer knows their calls (one listing per folder per 30 s).
    const first = join(dirs.root, 'mount-first')
    const last = join(dirs.root, 'last-cache')
    const mount = await mountFichfs(emu, { cacheDir: first, env, args: ['--cache-dir', last, '--upload-attempts', '3', '--upload-attempts', '5'] })
    try {
      expect(await run(`ls ${mount.mountpoint}`)).toBe('a.txt\nb.txt\n')
    } finally {
      await mount.stop()
      await removeDir(mount.mountpoint)
    }
    expect(existsSync(first)).toBe(false)
    expect(existsSync(last)).toBe(true)
    // status and unmount: flags given twice are fine too.
    expect(ok(await fichfs(['status', '--json', '--json'], { env })).stdout.trim()).toBe('[]')
  })

  it('the emulator takes the last --data-dir', async () => {
    const first = join(dirs.root, 'emu-first')
    const last = join(dirs.root, 'emu-last')
    const child = spawn(process.execPath, [BIN, 'emulator', '--data-dir', first, '--data-dir', last, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const ready = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        if (out.includes('\n')) resolve(out)
      })
      child.on('exit', (code) => reject(new Error(`emulator exited ${code}`)))
    })
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('exit', resolve))
    expect(JSON.parse(ready.split('\n')[0] as string).dataDir).toBe(last)
    expect(existsSync(first)).toBe(false)
  })
})
