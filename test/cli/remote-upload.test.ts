/**
 * `fichfs remote-upload`: the emulator fetches files from a local HTTP server into the account;
 * `--wait` returns once the file is listed, with the right size and Whirlpool; `--status`
 * follows requests made here or elsewhere. Rate limits on, and never met.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { api, whirlpool } from '../emulator/helpers.js'
import { removeDir, tempDir } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { at, cliDirs, cliEnv, fichfs, ok, type CliDirs } from './helpers.js'

describe('fichfs remote-upload', () => {
  let seed: string
  let emu: Emulator
  let dirs: CliDirs
  let env: NodeJS.ProcessEnv
  let server: Server
  let base: string
  const payload = randomBytes(1_500_000)
  const second = randomBytes(200_000)

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/files/payload.bin') return response.end(payload)
      if (request.url === '/download?id=2') {
        response.setHeader('Content-Disposition', 'attachment; filename="second copy.bin"')
        return response.end(second)
      }
      response.statusCode = 404
      response.end('not here')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    seed = await tempDir('remote-seed')
    await writeTree(seed, { files: { 'notes.txt': 'a file\n' }, folders: ['inbox', 'later'] })
    emu = await startEmulator({ dataDir: await tempDir('remote-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    dirs = await cliDirs('remote')
    env = cliEnv(dirs, { FICHFS_API_KEY: emu.apiKey })
    emu.resetStats()
  })

  afterAll(async () => {
    const floods = emu.stats().floods.total
    await emu.close()
    await new Promise((resolve) => server.close(resolve))
    for (const dir of [seed, emu.dataDir, dirs.root]) await removeDir(dir)
    // Checked after the cleanup, so that a failure leaves nothing behind.
    expect(floods).toBe(0)
  })

  it('--wait returns once the file is listed, with its size and Whirlpool', async () => {
    const result = ok(await fichfs(['remote-upload', `${base}/files/payload.bin`, '--to', '/inbox', '--wait', ...at(emu)], { env }))
    expect(result.stdout).toBe('/inbox/payload.bin\n')
    expect(result.stderr).toMatch(/is fetching 1 URL\(s\) into \/inbox \(request \d+\)/)
    expect(result.stderr).toContain('fichfs: URLs fetched by 1fichier: ')
    expect(result.stderr).toContain('listing the new files')

    const stored = emu.tree().find((entry) => entry.path === '/inbox/payload.bin')
    const expected = await whirlpool(payload)
    expect(stored).toMatchObject({ size: payload.length, whirlpool: expected })
    // Already listed by --wait: ls answers from the cache, with the same facts.
    const calls = emu.stats().apiCalls
    const listed = JSON.parse(ok(await fichfs(['ls', '--json', '/inbox', ...at(emu)], { env })).stdout)
    expect(emu.stats().apiCalls).toBe(calls)
    expect(listed).toEqual([expect.objectContaining({ name: 'payload.bin', size: payload.length, whirlpool: expected, url: stored?.url })])
  })

  it('without --wait prints the request id; --status lists and details it; --status ID --wait finishes it', async () => {
    const made = ok(await fichfs(['remote-upload', `${base}/download?id=2`, '--to', 'later', ...at(emu)], { env }))
    expect(made.stdout).toMatch(/^\d+\n$/)
    const id = made.stdout.trim()
    expect(made.stderr).toContain(`fichfs remote-upload --status ${id} --wait`)

    const waited = JSON.parse(ok(await fichfs(['remote-upload', '--status', id, '--wait', '--json', ...at(emu)], { env })).stdout)
    expect(waited.files).toEqual([expect.objectContaining({ path: '/later/second copy.bin', size: second.length, whirlpool: await whirlpool(second), source: `${base}/download?id=2` })])

    const list = ok(await fichfs(['remote-upload', '--status', ...at(emu)], { env })).stdout
    expect(list).toMatch(new RegExp(`^ +${id}  requested \\d{4}-.* done \\d{4}-`, 'm'))
    const detail = ok(await fichfs(['remote-upload', '--status', id, ...at(emu)], { env })).stdout
    expect(detail).toContain(`Request ${id}: requested`)
    expect(detail).toMatch(new RegExp(`OK  ${base}/download\\?id=2 -> https://1fichier\\.com/\\?[a-z0-9]{10}`))
  })

  it('--status ID --wait also finds files of a request made elsewhere (file/info says where)', async () => {
    const folderId = emu.tree().find((entry) => entry.path === '/later')?.folderId as number
    await new Promise((resolve) => setTimeout(resolve, 250))
    const request = await api(emu, 'remote/request.cgi', { urls: [`${base}/files/payload.bin`], folder_id: folderId })
    expect(request.json.status).toBe('OK')
    const out = ok(await fichfs(['remote-upload', '--status', String(request.json.id), '--wait', ...at(emu)], { env }))
    expect(out.stdout).toBe('/later/payload.bin\n')
  })

  it('a URL that fails is reported, with a non-zero exit', async () => {
    const result = await fichfs(['remote-upload', `${base}/missing.bin`, '--to', '/inbox', '--wait', '--json', ...at(emu)], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`1fichier could not fetch ${base}/missing.bin: HTTP 404`)
    expect(result.stderr).toContain('1 of 1 URL(s) could not be fetched')
    expect(JSON.parse(result.stdout)).toMatchObject({ files: [], failures: [{ url: `${base}/missing.bin`, message: 'HTTP 404' }] })
  })

  it('refuses what cannot work, before asking 1fichier', async () => {
    const calls = emu.stats().calls['remote/request.cgi'] ?? 0
    const none = await fichfs(['remote-upload', '--to', '/inbox', ...at(emu)], { env })
    expect(none.stderr).toContain('name at least one URL')
    const ftp = await fichfs(['remote-upload', 'ftp://example.com/a.bin', ...at(emu)], { env })
    expect(ftp.stderr).toContain('not an http(s) URL: ftp://example.com/a.bin')
    const toFile = await fichfs(['remote-upload', `${base}/files/payload.bin`, '--to', '/notes.txt', ...at(emu)], { env })
    expect(toFile.stderr).toContain('/notes.txt is not a folder')
    const missing = await fichfs(['remote-upload', `${base}/files/payload.bin`, '--to', '/nowhere', ...at(emu)], { env })
    expect(missing.stderr).toContain('no such file or folder in the account: /nowhere')
    const badId = await fichfs(['remote-upload', '--status', 'abc', ...at(emu)], { env })
    expect(badId.stderr).toContain('not a request id: abc')
    for (const result of [none, ftp, toFile, missing, badId]) expect(result.code).toBe(1)
    expect(emu.stats().calls['remote/request.cgi'] ?? 0).toBe(calls)
  })
})
