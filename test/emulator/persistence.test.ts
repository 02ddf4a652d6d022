import { mkdir as mkdirLocal, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import yargs, { type Argv } from 'yargs'
import { startEmulator } from '../../src/emulator/index.js'
import { emulatorCommand, runEmulator, type EmulatorCommandArgs } from '../../src/cli/commands/emulator.js'
import { api, getToken, makeTempDir, mkdir, startTestEmulator, uploadOne, whirlpool } from './helpers.js'

const cleanup: string[] = []
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('persistence', () => {
  it('keeps folders, files, bytes, copies and the key across a restart', async () => {
    const dataDir = await makeTempDir()
    cleanup.push(dataDir)
    const body = randomBytes(5000)
    const first = await startEmulator({ dataDir, rateLimits: false })
    const folder = await mkdir(first, 'kept')
    const link = await uploadOne(first, 'kept.bin', body, folder)
    await api(first, 'file/cp.cgi', { urls: [link.download], folder_id: 0 })
    const treeBefore = first.tree()
    const keyBefore = first.apiKey
    await first.close()

    const second = await startEmulator({ dataDir, rateLimits: false })
    try {
      // Compared as a boolean so a failure never prints the key.
      expect(second.apiKey === keyBefore).toBe(true) // generated once, stored in the dataDir
      expect(second.tree()).toEqual(treeBefore)
      const listing = await api(second, 'file/ls.cgi', { folder_id: folder })
      expect(listing.json.items[0]).toMatchObject({ filename: 'kept.bin', url: link.download, size: 5000 })
      const bytes = Buffer.from(await (await fetch(await getToken(second, link.download))).arrayBuffer())
      expect(bytes.equals(body)).toBe(true)
      // The copy shares the blob: one file on disk for two account files.
      expect(await readdir(join(dataDir, 'blobs'))).toHaveLength(1)
      expect(await readdir(dataDir)).toEqual(expect.arrayContaining(['emulator.sqlite', 'blobs', 'tmp']))
    } finally {
      await second.close()
    }
  })

  it('takes an explicit key over the stored one', async () => {
    const t = await startTestEmulator({ apiKey: 'explicit-key-for-test' })
    try {
      expect(t.emu.apiKey).toBe('explicit-key-for-test')
      expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).status).toBe(200)
    } finally {
      await t.dispose()
    }
  })
})

describe('seed', () => {
  it('uploads a local tree, skipping what the service refuses, and is idempotent', async () => {
    const seedDir = await makeTempDir('fichfs-seed-')
    cleanup.push(seedDir)
    const photo = randomBytes(3000)
    await mkdirLocal(join(seedDir, 'docs', 'deep'), { recursive: true })
    await writeFile(join(seedDir, 'readme.txt'), 'hello')
    await writeFile(join(seedDir, 'docs', 'photo.jpg'), photo)
    await writeFile(join(seedDir, 'docs', 'deep', 'note.md'), '# note')
    await writeFile(join(seedDir, 'bad$name.txt'), 'refused')
    await writeFile(join(seedDir, 'empty.txt'), '')
    await mkdirLocal(join(seedDir, ' leading-space'))

    const warnings: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      warnings.push(String(chunk))
      return true
    })
    const t = await startTestEmulator({ seedDir })
    try {
      const tree = t.emu.tree()
      expect(tree.map((entry) => `${entry.type} ${entry.path}`)).toEqual([
        'file /readme.txt',
        'folder /docs',
        'file /docs/photo.jpg',
        'folder /docs/deep',
        'file /docs/deep/note.md',
      ])
      expect(tree.find((entry) => entry.path === '/docs/photo.jpg')).toMatchObject({ size: 3000, whirlpool: await whirlpool(photo) })
      expect(warnings.join('')).toMatch(/bad\$name\.txt/)
      expect(warnings.join('')).toMatch(/empty\.txt/)
      expect(warnings.join('')).toMatch(/leading-space/)
      await t.emu.close()

      const again = await startEmulator({ dataDir: t.dataDir, seedDir, rateLimits: false })
      expect(again.tree().map((entry) => entry.path)).toEqual(tree.map((entry) => entry.path))
      await again.close()
    } finally {
      spy.mockRestore()
      await t.dispose()
    }
  })
})

describe('emulator command', () => {
  function parse(args: string[]): EmulatorCommandArgs {
    const builder = emulatorCommand.builder as (y: Argv) => Argv
    return builder(yargs(args)).parseSync() as unknown as EmulatorCommandArgs
  }

  it('parses every flag', () => {
    const args = parse([
      '--port', '8080', '--host', '0.0.0.0', '--data-dir', '/tmp/x', '--time-scale', '5', '--no-rate-limits', '--flood-lock-ms', '1000',
      '--upload-host', 'up.example:1', '--download-base', 'http://dl.example', '--quota', '1000', '--seed', '/tmp/seed',
      '--latency-ms', '20', '--bandwidth', '1000000', '--error-rate', '0.1', '--reset-rate', '0.2', '--end-html-rate', '0.3',
      '--flood-next', '2',
    ])
    expect(args).toMatchObject({
      port: 8080, host: '0.0.0.0', dataDir: '/tmp/x', timeScale: 5, rateLimits: false, floodLockMs: 1000, uploadHost: 'up.example:1',
      downloadBase: 'http://dl.example', quota: 1000, seed: '/tmp/seed', latencyMs: 20, bandwidth: 1_000_000, errorRate: 0.1, resetRate: 0.2, endHtmlRate: 0.3,
      floodNext: 2,
    })
    expect(parse([])).toMatchObject({ port: 0, host: '127.0.0.1', timeScale: 1, rateLimits: true, floodLockMs: 60_000 })
  })

  it('prints one JSON line when ready and closes when asked', async () => {
    const dataDir = await makeTempDir()
    cleanup.push(dataDir)
    const lines: string[] = []
    let stop!: () => void
    const stopRequested = new Promise<void>((resolve) => (stop = resolve))
    // The key comes from FICHFS_EMULATOR_API_KEY when set; one forced flood answers first.
    vi.stubEnv('FICHFS_EMULATOR_API_KEY', 'EnvKeyEnvKeyEnvKeyEnvKeyEnvKey12')
    const running = runEmulator({ ...parse(['--data-dir', dataDir, '--no-rate-limits', '--flood-next', '1']) }, { stdout: { write: (text: string) => lines.push(text) }, stopRequested })
    await vi.waitFor(() => expect(lines.length).toBe(1))
    expect(lines[0]?.endsWith('\n')).toBe(true)
    const ready = JSON.parse(lines[0] ?? '')
    expect(Object.keys(ready)).toEqual(['api', 'apiKey', 'port', 'admin', 'dataDir', 'uploadHost'])
    expect(ready.api).toBe(`http://127.0.0.1:${ready.port}/v1`)
    expect(ready.admin).toBe(`http://127.0.0.1:${ready.port}/__emulator`)
    expect(ready.uploadHost).toBe(`127.0.0.1:${ready.port}`)
    expect(ready.dataDir).toBe(dataDir)
    expect(ready.apiKey).toBe('EnvKeyEnvKeyEnvKeyEnvKeyEnvKey12')
    vi.unstubAllEnvs()
    const list = () => fetch(`${ready.api}/folder/ls.cgi`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ready.apiKey}`, 'Content-Type': 'application/json' },
      body: '{"folder_id":0}',
    })
    const flooded = await list()
    expect(flooded.status).toBe(403)
    expect(((await flooded.json()) as { message: string }).message).toMatch(/^Flood detected.* #\d+$/)
    await fetch(`${ready.admin}/unlock`, { method: 'POST' })
    const answer = await list()
    expect(answer.status).toBe(200)
    stop()
    await running
    await expect(fetch(`${ready.api}/user/info.cgi`)).rejects.toThrow()
  })
})
