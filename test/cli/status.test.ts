/**
 * `fichfs status` and `fichfs unmount` against a real mount (rate limits on): pending uploads
 * with their bytes, API calls, floods, caches and quota, for one mount or all; paths inside the
 * mount given to other commands; the unmount's progress display.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, type TestMount } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { cliDirs, cliEnv, fichfs, ok, type CliDirs } from './helpers.js'

describe('fichfs status and unmount on a running mount', () => {
  let seed: string
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  let mount: TestMount
  const SIZE = 3_000_000

  beforeAll(async () => {
    seed = await tempDir('status-seed')
    await writeTree(seed, { files: { 'hello.txt': 'hello\n', 'docs/a.txt': 'a\n' } })
    emu = await startEmulator({ dataDir: await tempDir('status-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    dirs = await cliDirs('status')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
    emu.resetStats()
    // A long write-back keeps the new file pending until the unmount.
    mount = await mountFichfs(emu, { cacheDir: dirs.cache, env, args: ['--write-back', '1h'] })
  })

  afterAll(async () => {
    await stopAllMounts()
    const floods = emu.stats().floods.total
    await emu.close()
    for (const dir of [seed, emu.dataDir, dirs.root, mount.mountpoint]) await removeDir(dir)
    // Checked after the cleanup, so that a failure leaves nothing behind.
    expect(floods).toBe(0)
  })

  it('shows a pending upload with its bytes, the API calls, floods, caches and quota', async () => {
    await run(`head -c ${SIZE} /dev/urandom > ${mount.mountpoint}/new.bin && cat ${mount.mountpoint}/hello.txt > /dev/null && df ${mount.mountpoint} > /dev/null`)
    const text = ok(await fichfs(['status', mount.mountpoint], { env })).stdout
    expect(text).toContain(`${mount.mountpoint}  (${emu.apiBase})`)
    expect(text).toMatch(/Uploads\s+1 pending, 0 uploading, 0 failed; 2\.86 MiB to send, 0 B sent/)
    expect(text).toMatch(/API calls\s+\d+ in the last minute, \d+ in total \(0 retried\)/)
    expect(text).toMatch(/Floods met\s+0/)
    // hello.txt was read once, cold: one block, downloaded.
    expect(text).toMatch(/Caches\s+file blocks 0% hits \(0 of 1 read: 0 from memory, 0 from disk; 1 downloaded, 0 of them read ahead\); .*folder listing/)
    expect(text).toMatch(/Account\s+\S+ \S+ used of 100\.0 GiB/)

    const json = JSON.parse(ok(await fichfs(['status', mount.mountpoint, '--json'], { env })).stdout)
    expect(json.mountpoint).toBe(mount.mountpoint)
    expect(json.uploads).toMatchObject({ pending: 1, bytesPending: SIZE, bytesSent: 0, failed: 0 })
    expect(json.api.calls).toBe(emu.stats().apiCalls)
    expect(json.api.floods).toBe(0)
    expect(json.account).toMatchObject({ quotaBytes: 100 * 1024 ** 3 })

    // The control socket answers its owner only.
    const sockets = readdirSync(dirs.runtime).filter((name) => name.endsWith('.sock'))
    expect(sockets).toHaveLength(1)
    expect(statSync(join(dirs.runtime, sockets[0] as string)).mode & 0o777).toBe(0o600)
  })

  it('without a mountpoint, lists every running mount; a path that is not mounted is an error', async () => {
    const all = JSON.parse(ok(await fichfs(['status', '--json'], { env })).stdout)
    expect(all.map((status: { mountpoint: string }) => status.mountpoint)).toEqual([mount.mountpoint])
    expect(ok(await fichfs(['status'], { env })).stdout).toContain(`${mount.mountpoint}  (`)
    const missing = await fichfs(['status', dirs.root], { env })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`no running fichfs mount answers for ${dirs.root}`)
  })

  it('paths inside the mount work for ls and link, with the mount\'s endpoint and its cache', async () => {
    const before = emu.stats().apiCalls
    // No --endpoint: the mount's own comes from its control socket.
    const listing = ok(await fichfs(['ls', '-l', mount.mountpoint], { env })).stdout
    expect(listing).toMatch(/^--u +3000000 .* new\.bin$/m)
    expect(listing).toMatch(/^d-- .* docs\/$/m)
    expect(emu.stats().apiCalls).toBe(before)
    // /docs was never listed: the first link lists it (once), the second reads the cache.
    const url = emu.tree().find((entry) => entry.path === '/docs/a.txt')?.url
    expect(ok(await fichfs(['link', `${mount.mountpoint}/docs/a.txt`], { env })).stdout).toBe(`${url}\n`)
    expect(ok(await fichfs(['link', 'a.txt'], { env, cwd: `${mount.mountpoint}/docs` })).stdout).toBe(`${url}\n`)
    const pending = await fichfs(['link', `${mount.mountpoint}/new.bin`], { env })
    expect(pending.code).toBe(1)
    expect(pending.stderr).toContain('/new.bin is not uploaded yet')
    expect(emu.stats().apiCalls).toBe(before + 1)
  })

  it('unmount uploads what is pending with a progress display, then the mount exits', async () => {
    const result = ok(await fichfs(['unmount', mount.mountpoint], { env, timeoutMs: 120_000 }))
    expect(result.stdout).toContain(`unmounted ${mount.mountpoint}`)
    expect(result.stderr).toMatch(/fichfs: uploading before unmount: .* of 2\.86 MiB \(\d+%\), 1 file\(s\) left/)
    expect(result.stderr).toContain('fichfs: pending uploads done (2.86 MiB sent)')
    expect(await mount.exited).toBe(0)
    expect(emu.tree().find((entry) => entry.path === '/new.bin')?.size).toBe(SIZE)
    expect(ok(await fichfs(['status'], { env })).stdout).toBe('No fichfs mount is running.\n')
    expect(JSON.parse(ok(await fichfs(['status', '--json'], { env })).stdout)).toEqual([])
  })
})
