/**
 * Stopping a busy daemon: whoever started the stop (a signal, `fichfs unmount`), a second
 * signal or `fichfs unmount --no-wait` ends the wait for uploads; a live daemon answers every
 * control request at once and is never taken for a stale mount.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { describe, expect, it } from 'vitest'
import { startEmulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, isMounted, mountFichfs, run, sh, tempDirsForFile, waitForUploads, type TestMount } from '../support/mount.js'

const dir = tempDirsForFile()

/** `fichfs unmount` in the background, with its output. */
function unmountInBackground(mountpoint: string, ...flags: string[]) {
  const child = spawn(process.execPath, [BIN, 'unmount', ...flags, mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { exited, output: () => output }
}

async function waitForOutput(mount: TestMount, text: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now()
  while (!mount.output().includes(text)) {
    if (Date.now() - started > timeoutMs) throw new Error(`no "${text}" in the daemon's output:\n${mount.output().slice(-4000)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('stopping a busy daemon', () => {
  it('a second signal stops waiting also when `fichfs unmount` started the stop', async () => {
    // 40 MB at 1 MB/s: the upload outlasts the test's patience by far.
    const emu = await startEmulator({ dataDir: await dir('sig-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: 1_000_000 } })
    try {
      const cacheDir = await dir('sig-cache')
      const source = join(await dir('sig-src'), 'slow.bin')
      const data = randomBytes(40_000_000)
      await writeFile(source, data)
      let mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '1h'] })
      await run(`cp ${source} ${mount.mountpoint}/slow.bin`)
      const unmount = unmountInBackground(mount.mountpoint)
      await waitForOutput(mount, '"msg":"uploading"')
      mount.process.kill('SIGTERM')
      await new Promise((resolve) => setTimeout(resolve, 300))
      mount.process.kill('SIGTERM')
      expect(await mount.exitWithin(15_000)).toBe(0)
      expect(mount.output()).toContain('not waiting any longer')
      expect(await unmount.exited).toBe(0)
      expect(unmount.output()).toMatch(/1 file\(s\) not uploaded yet/)
      expect(isMounted(mount.mountpoint)).toBe(false)
      expect(emu.tree().find((entry) => entry.path === '/slow.bin')).toBeUndefined()

      // Nothing lost: the next mount sends it.
      emu.setFaults({ bandwidthBytesPerSec: 0 })
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
      await waitForUploads(mount)
      expect(emu.tree().filter((entry) => entry.path === '/slow.bin').map((entry) => entry.whirlpool)).toEqual([await whirlpool(data)])
      await mount.stop()
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })

  it('`fichfs unmount --no-wait` during another unmount\'s wait is answered at once, and the daemon is not called stale', async () => {
    const emu = await startEmulator({ dataDir: await dir('nowait-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: 1_000_000 } })
    try {
      const cacheDir = await dir('nowait-cache')
      const source = join(await dir('nowait-src'), 'slow.bin')
      await writeFile(source, randomBytes(40_000_000))
      const mount = await mountFichfs(emu, { cacheDir, args: ['--write-back', '1h'] })
      await run(`cp ${source} ${mount.mountpoint}/slow.bin`)
      const waiting = unmountInBackground(mount.mountpoint)
      await waitForOutput(mount, '"msg":"uploading"')
      const started = Date.now()
      const quick = await sh(`node ${BIN} unmount --no-wait ${mount.mountpoint}`, { timeoutMs: 30_000 })
      expect(quick.code, quick.stderr).toBe(0)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(quick.stdout).toMatch(/unmounted/)
      expect(quick.stdout).not.toMatch(/stale/)
      expect(quick.stderr).toMatch(/next mount/)
      expect(await mount.exitWithin(15_000)).toBe(0)
      expect(await waiting.exited).toBe(0)
      expect(isMounted(mount.mountpoint)).toBe(false)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })
})
