/**
 * The client against the emulator: every endpoint, uploads and ranged reads byte for byte,
 * names that need encoding, and the safety rules (key only where it must go).
 */
import { createServer, type Server } from 'node:http'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { whirlpool } from 'hash-wasm'
import { FichierApiError } from '../../src/client/errors.js'
import type { FichierClient } from '../../src/client/fichier-client.js'
import { encodeName } from '../../src/client/names.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { collect, testClient } from '../support/client.js'

const source = (name: string, data: Buffer) => ({ name, size: data.length, open: () => Readable.from([data]) })

describe('client against the emulator', () => {
  let t: TestEmulator
  let client: FichierClient

  beforeAll(async () => {
    t = await startTestEmulator()
    client = testClient(t.emu)
  })
  afterAll(async () => {
    await client.close()
    await t.dispose()
  })

  it('reads the account', async () => {
    const info = await client.accountInfo()
    expect(info.email).toContain('@')
    expect(info.quotaBytes).toBeGreaterThan(0)
    expect(info.freeBytes).toBeLessThanOrEqual(info.quotaBytes)
    expect(typeof info.offer).toBe('number')
  })

  it('creates, lists, moves, renames and removes folders', async () => {
    const parent = await client.mkdir(0, 'client-folders')
    const child = await client.mkdir(parent.id, 'child')
    const other = await client.mkdir(0, 'client-other')
    let listing = await client.listFolder(parent.id)
    expect(listing.folders.map((f) => f.name)).toEqual(['child'])
    expect(listing.files).toEqual([])
    await client.moveFolder(child.id, other.id, 'renamed child')
    listing = await client.listFolder(other.id)
    expect(listing.folders.map((f) => f.name)).toEqual(['renamed child'])
    await client.moveFolder(child.id, other.id, 'second name')
    await client.rmdir(child.id)
    listing = await client.listFolder(other.id)
    expect(listing.folders).toEqual([])
  })

  it('uploads several files in one request and reports each', async () => {
    const folder = await client.mkdir(0, 'client-upload')
    const files = [randomBytes(1), randomBytes(100_000), randomBytes(1_000_003)]
    const result = await client.upload(folder.id, files.map((data, i) => source(`file-${i}.bin`, data)))
    expect(result.failed).toEqual([])
    expect(result.uploaded.map((u) => u.name)).toEqual(['file-0.bin', 'file-1.bin', 'file-2.bin'])
    for (const [i, uploaded] of result.uploaded.entries()) {
      expect(uploaded.size).toBe(files[i]?.length)
      expect(uploaded.whirlpool).toBe(await whirlpool(files[i] as Buffer))
      expect(uploaded.confirmedByService).toBe(true)
      expect(uploaded.url).toMatch(/^https:\/\/1fichier\.com\/\?[a-z0-9]{5,20}$/)
    }
    expect(t.emu.stats().upload.requests).toBeGreaterThanOrEqual(1)
    const listed = await client.listFiles(folder.id)
    expect(listed.map((f) => f.name).sort()).toEqual(['file-0.bin', 'file-1.bin', 'file-2.bin'])
    const big = listed.find((f) => f.name === 'file-2.bin')
    expect(big?.size).toBe(1_000_003)
    expect(big?.uploadedAt).toBeInstanceOf(Date)
    expect(Math.abs((big?.uploadedAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000)
  })

  it('hashes large files on disk in a worker thread, and still checks them', async () => {
    const { writeFile, mkdtemp, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { createReadStream } = await import('node:fs')
    const dir = await mkdtemp(`${tmpdir()}/fichfs-client-`)
    try {
      const data = randomBytes(12 << 20)
      const path = `${dir}/big.bin`
      await writeFile(path, data)
      const { uploaded, failed } = await client.upload(0, [{ name: 'worker-hashed.bin', size: data.length, path, open: () => createReadStream(path) }])
      expect(failed).toEqual([])
      expect(uploaded[0]?.whirlpool).toBe(await whirlpool(data))
      expect(uploaded[0]?.confirmedByService).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('reads ranges at the start, the middle and the end, byte for byte, with one link', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17)
    const folder = await client.mkdir(0, 'client-ranges')
    const { uploaded } = await client.upload(folder.id, [source('ranges.bin', data)])
    const url = uploaded[0]?.url as string
    const before = t.emu.stats().calls['download/get_token.cgi'] ?? 0
    const ranges: Array<[number, number]> = [[0, 0], [0, 131071], [1_500_000, 1_600_000], [data.length - 1000, data.length - 1], [data.length - 1, data.length - 1]]
    for (const [start, end] of ranges) {
      const got = await collect(client.readRange(url, start, end))
      expect(got.equals(data.subarray(start, end + 1))).toBe(true)
    }
    expect((t.emu.stats().calls['download/get_token.cgi'] ?? 0) - before).toBe(1)
    expect(t.emu.stats().download.authHeaderSeen).toBe(0)
  })

  it('renames, moves, copies, describes, protects and removes files', async () => {
    const a = await client.mkdir(0, 'client-files-a')
    const b = await client.mkdir(0, 'client-files-b')
    const data = randomBytes(5000)
    const { uploaded } = await client.upload(a.id, [source('one.txt', data)])
    let url = uploaded[0]?.url as string
    url = await client.renameFile(url, 'two.txt')
    url = await client.moveFile(url, b.id)
    url = await client.moveFile(url, a.id, 'three.txt')
    expect((await client.listFiles(a.id)).map((f) => f.name)).toEqual(['three.txt'])
    const copy = await client.copyFile(url, b.id, 'copy.txt')
    expect(copy).not.toBe(url)
    expect(await client.setAttributes([url], { description: 'hello', password: 'secret-pass' })).toBe(1)
    const info = await client.fileInfo(url)
    expect(info.name).toBe('three.txt')
    expect(info.size).toBe(5000)
    expect(info.description).toBe('hello')
    expect(info.passwordProtected).toBe(true)
    expect(info.folderId).toBe(a.id)
    // A protected file needs its password for a download link.
    await expect(client.downloadLink(url, { single: true })).rejects.toMatchObject({ code: 'FICHFS_NOT_ALLOWED', errno: 'EACCES' })
    expect((await collect(client.readRange(url, 0, 99, { password: 'secret-pass' }))).equals(data.subarray(0, 100))).toBe(true)
    await client.setAttributes([url], { password: '' })
    expect((await client.fileInfo(url)).passwordProtected).toBe(false)
    expect(await client.removeFiles([url, copy])).toBe(2)
    await expect(client.fileInfo(url)).rejects.toMatchObject({ code: 'FICHFS_NOT_FOUND', errno: 'ENOENT', httpStatus: 404, apiCode: 469 })
  })

  it('refuses a rename to the same name with #312 and a clear code', async () => {
    const { uploaded } = await client.upload(0, [source('same.txt', Buffer.from('x'))])
    await expect(client.renameFile(uploaded[0]?.url as string, 'same.txt')).rejects.toMatchObject({ code: 'FICHFS_NOTHING_RENAMED', apiCode: 312 })
  })

  it('encodes names the service forbids and decodes them back (rclone-compatible)', async () => {
    const folder = await client.mkdir(0, ' odd "folder" $')
    const names = [' lead.txt', 'trail.txt ', 'quote"s\'.txt', 'a<b>c.txt', 'dollar$`back`.txt', 'back\\slash.txt', 'unicode é 日本.txt', '．already-fullwidth＂.txt']
    const { uploaded, failed } = await client.upload(folder.id, names.map((name) => source(name, Buffer.from(name))))
    expect(failed).toEqual([])
    expect(uploaded.map((u) => u.name)).toEqual(names)
    const listing = await client.listFolder(folder.id)
    expect(listing.files?.map((f) => f.name).sort()).toEqual([...names].sort())
    expect((await client.listFolder(0)).folders.map((f) => f.name)).toContain(' odd "folder" $')
    // What the service stores is the encoded form.
    const stored = t.emu.tree().filter((entry) => entry.type === 'file' && entry.folderId === folder.id).map((entry) => entry.path.split('/').pop())
    expect(stored.sort()).toEqual(names.map(encodeName).sort())
  })

  it('remote upload: the service fetches a URL into a folder', async () => {
    const payload = randomBytes(20_000)
    const server: Server = createServer((_req, res) => {
      res.setHeader('content-disposition', 'attachment; filename="fetched.bin"')
      res.end(payload)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const folder = await client.mkdir(0, 'client-remote')
      const port = (server.address() as { port: number }).port
      const request = await client.remoteRequest([`http://127.0.0.1:${port}/x`], folder.id)
      expect(request.id).toBeGreaterThan(0)
      let status = await client.remoteInfo(request.id)
      for (let i = 0; i < 100 && !status.executedAt; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        status = await client.remoteInfo(request.id)
      }
      expect(status.executedAt).toBeInstanceOf(Date)
      expect(status.results[0]?.ok).toBe(true)
      expect((await client.remoteList()).map((r) => r.id)).toContain(request.id)
      const files = await client.listFiles(folder.id)
      expect(files[0]?.name).toBe('fetched.bin')
      expect(files[0]?.checksum).toBe(await whirlpool(payload))
    } finally {
      server.close()
    }
  })

  it('refuses empty files, huge files and too-long names before any transfer', async () => {
    const before = t.emu.stats().apiCalls
    await expect(client.upload(0, [source('empty', Buffer.alloc(0))])).rejects.toMatchObject({ errno: 'EINVAL' })
    await expect(client.upload(0, [{ name: 'huge', size: 300e9 + 1, open: () => Readable.from([]) }])).rejects.toMatchObject({ errno: 'EFBIG' })
    await expect(client.upload(0, [source('x'.repeat(300), Buffer.from('x'))])).rejects.toMatchObject({ errno: 'ENAMETOOLONG' })
    expect(t.emu.stats().apiCalls).toBe(before)
  })
})

describe('download links', () => {
  it('an expired link is renewed once, transparently', async () => {
    // Tokens expire after 5 min / 100 = 3 s here; the client would keep its link 4 minutes.
    const t = await startTestEmulator({ timeScale: 100 })
    const client = testClient(t.emu, { client: { linkLifetimeMs: 4 * 60_000 } })
    try {
      const data = randomBytes(200_000)
      const { uploaded } = await client.upload(0, [source('expiring.bin', data)])
      const url = uploaded[0]?.url as string
      expect((await collect(client.readRange(url, 0, 999))).equals(data.subarray(0, 1000))).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 3500))
      expect((await collect(client.readRange(url, 1000, 199_999))).equals(data.subarray(1000))).toBe(true)
      expect(t.emu.stats().calls['download/get_token.cgi']).toBe(2)
      expect(client.downloadStats().linkRequests).toBe(2)
    } finally {
      await client.close()
      await t.dispose()
    }
  })
})

describe('the key goes only where it must', () => {
  it('refuses an upload host outside the trusted domain without sending the key', async () => {
    const t = await startTestEmulator({ uploadHost: 'evil.example.com:1234' })
    const client = testClient(t.emu)
    try {
      await expect(client.upload(0, [source('a.txt', Buffer.from('a'))])).rejects.toMatchObject({ code: 'FICHFS_UNSAFE_HOST' })
      expect(t.emu.stats().upload.requests).toBe(0)
    } finally {
      await client.close()
      await t.dispose()
    }
  })

  it('refuses a download link on another host', async () => {
    const t = await startTestEmulator({ downloadBase: 'http://localhost:9' })
    const client = testClient(t.emu)
    try {
      const { uploaded } = await client.upload(0, [source('b.txt', Buffer.from('b'))])
      await expect(client.downloadLink(uploaded[0]?.url as string)).rejects.toMatchObject({ code: 'FICHFS_UNSAFE_HOST' })
    } finally {
      await client.close()
      await t.dispose()
    }
  })

  it('a bad key fails at once, with the auth code and a hint to regenerate it', async () => {
    const t = await startTestEmulator()
    const wrong = 'WrongKeyWrongKeyWrongKeyWrongKey'
    const client = testClient({ ...t.emu, apiKey: wrong } as typeof t.emu)
    try {
      const started = Date.now()
      const error = await client.accountInfo().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(FichierApiError)
      expect((error as FichierApiError).code).toBe('FICHFS_AUTH')
      expect((error as FichierApiError).httpStatus).toBe(401)
      expect((error as FichierApiError).hint).toMatch(/regenerate/i)
      expect((error as FichierApiError).hint).toContain('https://1fichier.com/console/params.pl')
      expect(Date.now() - started).toBeLessThan(2000)
      expect(t.emu.stats().authFailures).toBe(1)
      expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain(wrong)
    } finally {
      await client.close()
      await t.dispose()
    }
  })
})
