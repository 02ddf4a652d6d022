/**
 * A mountpoint may hold any character Linux allows, shell syntax included: mounting, using,
 * unmounting and clearing a stale mount must work and must never run what the name says.
 * Every command here gets the path as one argv entry (exec), never through a shell string, so
 * the test itself cannot be what runs the name.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, exec, isMounted, mountFichfs, tempDirsForFile, waitForUploads } from '../support/mount.js'

const dir = tempDirsForFile()
const markers: string[] = []
afterAll(() => {
  for (const file of markers) rmSync(file, { force: true })
})

/** A `fusermount` first on PATH that logs its argv and environment, then runs the real one. */
async function recordingFusermount(base: string): Promise<{ bin: string; log: string }> {
  const real = (await exec('sh', ['-c', 'command -v fusermount'])).stdout.trim()
  expect(real).not.toBe('')
  const bin = join(base, 'bin')
  const log = join(base, 'fusermount.log')
  await mkdir(bin, { recursive: true })
  // base is a plain temp path (no shell syntax), so embedding it here is safe.
  writeFileSync(join(bin, 'fusermount'), [
    '#!/bin/sh',
    `{ printf 'ARGV'; for arg in "$@"; do printf ' [%s]' "$arg"; done; printf '\\n'; env | sed 's/^/ENV /'; } >> '${log}'`,
    `exec '${real}' "$@"`,
    '',
  ].join('\n'))
  chmodSync(join(bin, 'fusermount'), 0o755)
  return { bin, log }
}

describe('mountpoints with shell syntax in their names', () => {
  it('mount, use, unmount and stale-mount cleanup work, and nothing in the name runs', async () => {
    const emu = await startEmulator({ dataDir: await dir('names-emu'), timeScale: 10 })
    try {
      const base = await dir('names')
      // No slash may be in a name: the commands create their markers in the daemon's cwd (ours).
      const marker = `fichfs-pwned-${process.pid}`
      markers.push(`${marker}-dollar`, `${marker}-tick`)
      const name = `a $(touch ${marker}-dollar) \`touch ${marker}-tick\` "double" 'single' $HOME\nnewline`
      const mountpoint = join(base, name)
      await mkdir(mountpoint)
      const fake = await recordingFusermount(base)
      const env = { PATH: `${fake.bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }
      const cacheDir = await dir('names-cache')
      const fichfs = (...args: string[]) => exec(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000 })

      // Mount and use it; the daemon's own "still mounted?" check must read the name right too
      // (it polls every 2 s and stops the daemon when it thinks the mount is gone).
      let mount = await mountFichfs(emu, { cacheDir, mountpoint, env, args: ['--write-back', '100ms'] })
      await writeFile(join(mountpoint, 'hello.txt'), 'hello\n')
      expect(await readFile(join(mountpoint, 'hello.txt'), 'utf8')).toBe('hello\n')
      expect(await readdir(mountpoint)).toEqual(['hello.txt'])
      await waitForUploads(mount)
      await new Promise((resolve) => setTimeout(resolve, 2500))
      expect(mount.process.exitCode, mount.output()).toBeNull()
      expect(isMounted(mountpoint)).toBe(true)
      const status = await fichfs('status', mountpoint)
      expect(status.code, status.stderr).toBe(0)

      // fichfs unmount: through the daemon (fuse-native's unmount runs fusermount).
      const unmounted = await fichfs('unmount', mountpoint)
      expect(unmounted.code, unmounted.stderr).toBe(0)
      expect(await mount.exitWithin(30_000)).toBe(0)
      expect(isMounted(mountpoint)).toBe(false)
      expect(emu.tree().find((entry) => entry.path === '/hello.txt')?.size).toBe(6)

      // A crash leaves a stale mount; the next mount clears it (fuse-native's force path).
      mount = await mountFichfs(emu, { cacheDir, mountpoint, env })
      await mount.kill9()
      expect(isMounted(mountpoint)).toBe(true)
      mount = await mountFichfs(emu, { cacheDir, mountpoint, env })
      expect(await readFile(join(mountpoint, 'hello.txt'), 'utf8')).toBe('hello\n')
      // And `fichfs unmount` of a stale mount (no daemon answers) clears it too.
      await mount.kill9()
      const cleared = await fichfs('unmount', mountpoint)
      expect(cleared.code, cleared.stderr).toBe(0)
      expect(cleared.stdout).toMatch(/stale mount was cleared/)
      expect(isMounted(mountpoint)).toBe(false)

      // Nothing in the name ran, and fusermount got the path as one argument after `--`.
      for (const file of markers) expect(existsSync(file), `${file} was created: the name ran as a command`).toBe(false)
      const log = readFileSync(fake.log, 'utf8')
      const calls = log.split('\n').filter((line) => line.startsWith('ARGV')).length
      expect(calls).toBeGreaterThanOrEqual(3)
      expect(log.split(`ARGV [-uz] [--] [${mountpoint}]`).length - 1).toBe(calls)
      // No fusermount child got the API key in its environment.
      expect(log).not.toContain('FICHFS_API_KEY')
      expect(log).not.toContain(emu.apiKey)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })
})
