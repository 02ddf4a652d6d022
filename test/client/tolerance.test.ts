/**
 * Where the API doc is unsure, the client accepts both readings. The emulator is strict and
 * always emits one of them, so the other readings come from a small fake server here.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FichierClient } from '../../src/client/fichier-client.js'
import { Pacer } from '../../src/client/pacer.js'

const KEY = 'FakeKeyFakeKeyFakeKeyFakeKey1234'
const answers: Record<string, unknown> = {
  // Numbers where rclone expects strings, strings where it expects numbers; no status at all.
  'user/info.cgi': { email: 'a@b.c', offer: 1, cold_storage: '1000', available_cold_storage: 5000, subscription_end: '2030-01-01 00:00:00' },
  // No status, no sub_folders (the doc does not say whether an empty list is [] or omitted).
  'folder/ls.cgi': { folder_id: '0', name: '', items: [{ url: 'https://1fichier.com/?abcde12345', filename: 'a＂b.txt', size: '42', date: '2026-07-01 12:00:00', checksum: 'AB', 'content-type': 'text/plain', pass: '1', acl: 0, cdn: 0 }] },
  // The root as captured in public (rclone#5152): "Root", a null size, no create_date or pass;
  // then sub-folders and items with fields missing or null.
  'root/folder/ls.cgi': {
    status: 'OK', folder_id: 0, name: 'Root', size: null, files: 2,
    sub_folders: [{ id: 7, name: 'backup' }, { id: '8', name: 'b＄', create_date: null, pass: null }],
    items: [
      { url: 'https://1fichier.com/?nullsize01', filename: 'n.bin', size: null, date: null, checksum: null, 'content-type': null, pass: null },
      { url: 'https://1fichier.com/?bareitem01', filename: 'bare.txt' },
    ],
  },
  'download/get_token.cgi': { url: 'https://a-4.1fichier.com/c1234567890' },
  'file/rename.cgi': { status: 'OK', renamed: '1' },
  'file/rm.cgi': { status: 'OK' },
}

describe('a tolerant client', () => {
  let server: Server
  let client: FichierClient
  let rootAnswer = false

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').replace(/^\/v1\//, '').replace(/^(folder\/ls\.cgi)$/, () => (rootAnswer ? 'root/folder/ls.cgi' : 'folder/ls.cgi'))
      req.resume()
      req.on('end', () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(answers[path] ?? { status: 'KO', message: 'Unknown #999' }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    client = new FichierClient({ apiKey: KEY, endpoint: `http://127.0.0.1:${port}/v1`, pacer: new Pacer({ minIntervalMs: 1, listingIntervalMs: 1 }) })
  })

  afterAll(async () => {
    await client.close()
    server.close()
  })

  it('reads numbers whether they come as numbers or strings, and a missing status as OK', async () => {
    const info = await client.accountInfo()
    expect(info).toMatchObject({ email: 'a@b.c', offer: 1, usedBytes: 1000, quotaBytes: 5000, freeBytes: 4000 })
  })

  it('takes a listing without status or sub_folders, with string sizes and flags, and decodes names', async () => {
    const listing = await client.listFolder(0)
    expect(listing.folders).toEqual([])
    expect(listing.files?.[0]).toMatchObject({ name: 'a"b.txt', size: 42, passwordProtected: true, checksum: 'ab', id: 'abcde12345' })
    // Paris summer time is UTC+2.
    expect(listing.files?.[0]?.uploadedAt?.toISOString()).toBe('2026-07-01T10:00:00.000Z')
  })

  it('takes the root listing as captured (name "Root", size null, no create_date or pass) and null or missing fields', async () => {
    rootAnswer = true
    try {
      const listing = await client.listFolder(0)
      expect(listing).toMatchObject({ id: 0, name: 'Root', fileCount: 2 })
      expect(listing.folders).toEqual([
        { id: 7, name: 'backup', createdAt: undefined, passwordProtected: false },
        { id: 8, name: 'b$', createdAt: undefined, passwordProtected: false },
      ])
      expect(listing.files).toHaveLength(2)
      expect(listing.files?.[0]).toMatchObject({ name: 'n.bin', size: 0, uploadedAt: undefined, checksum: undefined, contentType: undefined, passwordProtected: false })
      expect(listing.files?.[1]).toMatchObject({ name: 'bare.txt', size: 0, uploadedAt: undefined, id: 'bareitem01' })
    } finally {
      rootAnswer = false
    }
  })

  it('accepts a download link without status, and answers without the counts they may carry', async () => {
    expect(await client.downloadLink('https://1fichier.com/?abcde12345')).toBe('https://a-4.1fichier.com/c1234567890')
    expect(await client.renameFile('https://1fichier.com/?abcde12345', 'new')).toBe('https://1fichier.com/?abcde12345')
    expect(await client.removeFiles(['https://1fichier.com/?abcde12345'])).toBe(1)
  })
})
