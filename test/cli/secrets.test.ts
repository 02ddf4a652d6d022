/**
 * The API key appears nowhere: every command run with --verbose (successes and failures), a
 * mount's own log, `fichfs status` output, the process list while commands and the mount run,
 * and the metadata cache on disk. Only the key file written by `fichfs login` holds it.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, type TestMount } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { at, cliDirs, cliEnv, fichfs, keyFreeReport, ok, transcript, type CliDirs } from './helpers.js'

function processList(): Promise<string> {
  return new Promise((resolve, reject) => execFile('ps', ['-eo', 'args'], { maxBuffer: 16 << 20, timeout: 30_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))))
}

/** Every file under `dir`, read as bytes (SQLite pages included). */
function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...filesUnder(path))
    else out.push(path)
  }
  return out
}

describe('the API key never shows', () => {
  let seed: string
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  let mount: TestMount | undefined
  let server: Server
  let base: string
  const snapshots: string[] = []

  beforeAll(async () => {
    server = createServer((_request, response) => response.end('fetched by 1fichier\n'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    seed = await tempDir('secret-seed')
    await writeTree(seed, { files: { 'a.txt': 'a\n', 'dir/b.bin': 4096 } })
    emu = await startEmulator({ dataDir: await tempDir('secret-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    dirs = await cliDirs('secret')
    env = cliEnv(dirs)
  })

  afterAll(async () => {
    await stopAllMounts()
    const floods = emu.stats().floods.total
    await emu.close()
    await new Promise((resolve) => server.close(resolve))
    for (const dir of [seed, emu.dataDir, dirs.root]) await removeDir(dir)
    if (mount) await removeDir(mount.mountpoint)
    // Checked after the cleanup, so that a failure leaves nothing behind.
    expect(floods).toBe(0)
  })

  it('runs every command with --verbose, beside a verbose mount', async () => {
    ok(await fichfs(['login', '--stdin', '-vv', ...at(emu)], { env, input: `${emu.apiKey}\n` }))
    mount = await mountFichfs(emu, { cacheDir: dirs.cache, env, args: ['-v'] })
    snapshots.push(await processList())
    await run(`cat ${mount.mountpoint}/a.txt > /dev/null && echo new > ${mount.mountpoint}/new.txt && ls -lR ${mount.mountpoint} > /dev/null && df ${mount.mountpoint} > /dev/null`)
    for (const args of [
      ['info', '-vv'], ['info', '--json', '-vv'], ['ls', '-l', '-vv'], ['ls', '--json', '/dir', '-vv'], ['link', '/a.txt', '-vv'],
      ['describe', '/a.txt', 'described', '-vv'], ['describe', '/a.txt', '-vv'], ['ls', '/missing', '-vv'], ['link', '/dir', '-vv'],
      ['remote-upload', '--status', '-vv'],
    ]) await fichfs([...args, ...at(emu)], { env })
    ok(await fichfs(['protect', '/a.txt', '--password-stdin', '-vv', ...at(emu)], { env, input: 'a password\n' }))
    ok(await fichfs(['protect', '/a.txt', '--clear', '-vv', ...at(emu)], { env }))
    // The process list while a command waits, and while the mount serves.
    const waiting = fichfs(['remote-upload', `${base}/fetched.txt`, '--to', '/dir', '--wait', '-vv', ...at(emu)], { env })
    snapshots.push(await processList())
    ok(await waiting)
    snapshots.push(await processList())
    ok(await fichfs(['status'], { env }))
    ok(await fichfs(['status', mount.mountpoint, '--json'], { env }))
    ok(await fichfs(['unmount', mount.mountpoint], { env }))
    expect(await mount.exited).toBe(0)
    // A rejected key is not repeated either.
    await fichfs(['info', '-vv', ...at(emu)], { env: cliEnv(dirs, { FICHFS_API_KEY: `${emu.apiKey.slice(0, 31)}X` }) })
    expect(transcript.join('\n')).toContain('"level":')
  })

  it('finds the key in no output, log, status, process list or cache file', () => {
    const key = emu.apiKey
    expect(keyFreeReport(transcript.join('\n'), key)).toBe('no key')
    expect(keyFreeReport(transcript.join('\n'), `${key.slice(0, 31)}X`)).toBe('no key')
    expect(keyFreeReport(mount?.output() ?? '', key)).toBe('no key')
    expect(mount?.output()).toContain('"level":30')
    for (const snapshot of snapshots) expect(keyFreeReport(snapshot, key)).toBe('no key')
    expect(snapshots.some((snapshot) => snapshot.includes('remote-upload'))).toBe(true)
    for (const file of filesUnder(dirs.cache)) expect(keyFreeReport(readFileSync(file, 'latin1'), key), file).toBe('no key')
    // The one place it is meant to be.
    expect(readFileSync(join(dirs.config, 'api-key'), 'utf8').trim()).toBe(key)
  })
})
