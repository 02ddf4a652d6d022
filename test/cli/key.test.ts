/**
 * Key hygiene through the real binary: `fichfs login` (prompt without echo, --stdin, a key
 * file), the stored key's modes, `fichfs logout`, and the refusals: a key as an argument, a key
 * file others can read, a rejected key, no key at all.
 */
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { BIN, removeDir, tempDir } from '../support/mount.js'
import { at, cliDirs, cliEnv, fichfs, keyFreeReport, ok, type CliDirs } from './helpers.js'

const BAD_KEY = 'Zz9'.repeat(10) + 'xy'

describe('fichfs login, logout and key refusals', () => {
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    emu = await startEmulator({ dataDir: await tempDir('key-emu'), rateLimits: false, timeScale: 10 })
    dirs = await cliDirs('key')
    env = cliEnv(dirs)
  })

  afterAll(async () => {
    await emu.close()
    await removeDir(emu.dataDir)
    await removeDir(dirs.root)
  })

  const keyFile = () => join(dirs.config, 'api-key')

  it('without any key, commands say how to give one', async () => {
    const result = await fichfs(['info', ...at(emu)], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('no 1fichier API key configured')
    expect(result.stderr).toContain('fichfs login')
    expect(result.stderr).toContain('FICHFS_API_KEY')
    expect(result.stderr).toContain('--api-key-file')
  })

  it('refuses a key given as an argument, in every spelling, without repeating it', async () => {
    for (const args of [['info', '--api-key', emu.apiKey], ['ls', `--api-key=${emu.apiKey}`], ['login', '--key', emu.apiKey], ['mount', '/tmp/x', '--apikey', emu.apiKey], ['info', '--token', emu.apiKey], ['login', emu.apiKey]]) {
      const result = await fichfs(args, { env })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('never takes the API key as a command-line argument')
      expect(result.stderr).toContain('FICHFS_API_KEY')
      expect(result.stderr).toContain('--api-key-file')
      expect(result.stderr).toContain('fichfs login')
      expect(keyFreeReport(result.stdout + result.stderr, emu.apiKey)).toBe('no key')
    }
  })

  it('login --stdin checks the key and stores it 0600 in a 0700 dir, even under umask 000', async () => {
    const result = ok(await fichfs(['login', '--stdin', ...at(emu)], { env: { ...env }, input: `${emu.apiKey}\n` }))
    expect(result.stdout).toContain('the key works (demo@fichfs.invalid, Premium)')
    expect(result.stdout).toContain(keyFile())
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600)
    expect(statSync(dirs.config).mode & 0o777).toBe(0o700)
    expect(readFileSync(keyFile(), 'utf8').trim()).toBe(emu.apiKey)
    expect(emu.stats().calls['user/info.cgi']).toBe(1)
    expect(keyFreeReport(result.stdout + result.stderr, emu.apiKey)).toBe('no key')

    // A permissive umask must not loosen the file: it is created 0600, not chmod-ed later.
    await removeDir(dirs.config)
    const loose = await new Promise<number | null>((resolve) => {
      // The command comes as arguments ("$@"), not inside the shell text.
      const child = spawn('bash', ['-c', 'umask 000; exec "$@"', 'bash', process.execPath, BIN, 'login', '--stdin', '--endpoint', emu.apiBase, '--time-scale', '10'], { env, stdio: ['pipe', 'ignore', 'ignore'] })
      child.stdin.end(`${emu.apiKey}\n`)
      child.on('close', resolve)
    })
    expect(loose).toBe(0)
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600)
    expect(readdirSync(dirs.config)).toEqual(['api-key'])
  })

  it('the stored key is used by later commands', async () => {
    const result = ok(await fichfs(['info', '--json', ...at(emu)], { env }))
    expect(JSON.parse(result.stdout)).toMatchObject({ email: 'demo@fichfs.invalid', offer: 1, offerName: 'Premium' })
  })

  it('login on a terminal asks without echoing the key', async () => {
    await removeDir(dirs.config)
    const command = `"${process.execPath}" "${BIN}" login --endpoint ${emu.apiBase} --time-scale 10`
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    let typed = false
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8')
      if (!typed && output.includes('1fichier API key:')) {
        typed = true
        child.stdin.write(`${emu.apiKey}\r`)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      child.on('close', (exit) => {
        clearTimeout(timer)
        resolve(exit)
      })
    })
    expect(typed).toBe(true)
    expect(code).toBe(0)
    expect(output).toContain('the key works')
    expect(keyFreeReport(output, emu.apiKey)).toBe('no key')
    expect(readFileSync(keyFile(), 'utf8').trim()).toBe(emu.apiKey)
  })

  it('login with no terminal and no --stdin says how to pipe the key', async () => {
    const result = await fichfs(['login', ...at(emu)], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('no terminal')
    expect(result.stderr).toContain('fichfs login --stdin')
  })

  it('a rejected key says to regenerate it in the console and log in again, and stores nothing', async () => {
    const before = readFileSync(keyFile(), 'utf8')
    const cacheEntries = readdirSync(dirs.cache)
    const result = await fichfs(['login', '--stdin', ...at(emu)], { env, input: `${BAD_KEY}\n` })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('1fichier rejected the API key')
    expect(result.stderr).toContain('#247')
    expect(result.stderr).toContain('https://1fichier.com/console/params.pl')
    expect(result.stderr).toContain('regenerating also revokes a leaked key')
    expect(result.stderr).toContain('fichfs login')
    expect(result.stderr).toContain('[FICHFS_AUTH]')
    expect(result.stderr).not.toContain(BAD_KEY)
    expect(readFileSync(keyFile(), 'utf8')).toBe(before)
    expect(readdirSync(dirs.cache)).toEqual(cacheEntries)

    // The same words when the bad key comes from the environment.
    const fromEnv = await fichfs(['ls', ...at(emu)], { env: cliEnv(dirs, { FICHFS_API_KEY: BAD_KEY }) })
    expect(fromEnv.code).toBe(1)
    expect(fromEnv.stderr).toContain('https://1fichier.com/console/params.pl')
    expect(fromEnv.stderr).not.toContain(BAD_KEY)
    // ...and neither a command nor a mount with a rejected key leaves a cache dir behind.
    expect(readdirSync(dirs.cache)).toEqual(cacheEntries)
    const mountpoint = join(dirs.root, 'mnt')
    const mounted = await fichfs(['mount', mountpoint, ...at(emu)], { env: cliEnv(dirs, { FICHFS_API_KEY: BAD_KEY }) })
    expect(mounted.code).toBe(1)
    expect(mounted.stderr).toContain('1fichier rejected the API key')
    expect(readdirSync(dirs.cache)).toEqual(cacheEntries)
  })

  it('refuses a key file that others can read, with the chmod to run; accepts it at 0600', async () => {
    const file = join(dirs.root, 'key.txt')
    writeFileSync(file, `${emu.apiKey}\n`, { mode: 0o644 })
    chmodSync(file, 0o644)
    const refused = await fichfs(['ls', '--api-key-file', file, ...at(emu)], { env })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('is readable by other users (mode 644)')
    expect(refused.stderr).toContain(`chmod 600 ${file}`)
    const loginRefused = await fichfs(['login', '--api-key-file', file, ...at(emu)], { env })
    expect(loginRefused.code).toBe(1)
    expect(loginRefused.stderr).toContain(`chmod 600 ${file}`)
    chmodSync(file, 0o600)
    ok(await fichfs(['ls', '--api-key-file', file, ...at(emu)], { env }))
  })

  it('FICHFS_API_KEY comes before --api-key-file, which comes before the stored key', async () => {
    const good = join(dirs.root, 'good.txt')
    writeFileSync(good, `${emu.apiKey}\n`, { mode: 0o600 })
    const bad = join(dirs.root, 'bad.txt')
    writeFileSync(bad, `${BAD_KEY}\n`, { mode: 0o600 })
    // env bad, file good: the env wins and is rejected.
    expect((await fichfs(['ls', '--api-key-file', good, ...at(emu)], { env: cliEnv(dirs, { FICHFS_API_KEY: BAD_KEY }) })).code).toBe(1)
    // file bad, stored good: the file wins and is rejected.
    expect((await fichfs(['ls', '--api-key-file', bad, ...at(emu)], { env })).code).toBe(1)
    // env good, stored good: fine.
    ok(await fichfs(['ls', ...at(emu)], { env: cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey }) }))
  })

  it('logout removes the stored key, says how to revoke it, and is harmless when repeated', async () => {
    const out = ok(await fichfs(['logout'], { env }))
    expect(out.stdout).toContain('removed the stored key')
    expect(out.stderr).toContain('https://1fichier.com/console/params.pl')
    expect(existsSync(keyFile())).toBe(false)
    const again = ok(await fichfs(['logout'], { env }))
    expect(again.stdout).toContain('no key is stored')
    const after = await fichfs(['info', ...at(emu)], { env })
    expect(after.code).toBe(1)
    expect(after.stderr).toContain('fichfs login')
  })

  it('every command has --help', async () => {
    for (const command of ['login', 'logout', 'info', 'ls', 'link', 'protect', 'describe', 'upload', 'remote-upload', 'status']) {
      const result = ok(await fichfs([command, '--help'], { env }))
      expect(result.stdout).toContain(`fichfs ${command}`)
    }
  })
})
