import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { API_DATE, FILE_URL, api, mkdir, startTestEmulator, whirlpool, type TestEmulator } from './helpers.js'

let t: TestEmulator
let origin: Server
let base: string
const archive = randomBytes(40_000)
const cookiesSeen: Array<string | undefined> = []

beforeAll(async () => {
  t = await startTestEmulator()
  origin = createServer((req, res) => {
    cookiesSeen.push(req.headers.cookie)
    if (req.url === '/download?id=1') {
      res.writeHead(200, { 'Content-Disposition': 'attachment; filename="from-header.zip"', 'Content-Length': archive.length })
      res.end(archive)
    } else if (req.url === '/files/plain%20name.txt') {
      res.end('plain body')
    } else {
      res.writeHead(404).end('missing')
    }
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
})
afterAll(async () => {
  await t.dispose()
  await new Promise((resolve) => origin.close(resolve))
})

describe('remote upload', () => {
  it('fetches the URLs into the folder and reports through remote/ls and remote/info', async () => {
    const folder = await mkdir(t.emu, 'remote')
    const urls = [`${base}/download?id=1`, `${base}/files/plain%20name.txt`, `${base}/nothing`]
    const requested = await api(t.emu, 'remote/request.cgi', { urls, folder_id: folder, headers: { Cookie: 'session=abc' } })
    expect(requested.status).toBe(200)
    expect(Object.keys(requested.json).sort()).toEqual(['date', 'headers', 'id', 'status', 'urls'])
    expect(requested.json).toMatchObject({ status: 'OK', urls, headers: { Cookie: 'session=abc' } })
    expect(Number.isInteger(requested.json.id)).toBe(true)
    expect(requested.json.date).toMatch(API_DATE)
    const id = requested.json.id

    let info: any
    await vi.waitFor(async () => {
      info = (await api(t.emu, 'remote/info.cgi', { id })).json
      expect(info.execution_date).not.toBe('')
    }, { timeout: 5000, interval: 50 })
    expect(Object.keys(info).sort()).toEqual(['execution_date', 'id', 'links', 'request_date', 'result', 'status'])
    expect(info.execution_date).toMatch(API_DATE)
    expect(info.result).toHaveLength(3)
    const [zip, plain, missing] = info.result
    expect(Object.keys(zip).sort()).toEqual(['download_link', 'message', 'status', 'url'])
    expect(zip).toMatchObject({ status: 'OK', url: urls[0], message: '' })
    expect(zip.download_link).toMatch(FILE_URL)
    expect(plain.status).toBe('OK')
    expect(missing).toMatchObject({ status: 'KO', url: urls[2], download_link: '', message: 'HTTP 404' })
    expect(info.links).toEqual([zip.download_link, plain.download_link])
    expect(cookiesSeen).toEqual(['session=abc', 'session=abc', 'session=abc'])

    const listing = await api(t.emu, 'file/ls.cgi', { folder_id: folder })
    expect(listing.json.items.map((item: any) => [item.filename, item.size])).toEqual([
      ['from-header.zip', archive.length],
      ['plain name.txt', 10],
    ])
    expect(listing.json.items[0].checksum).toBe(await whirlpool(archive))

    const ls = await api(t.emu, 'remote/ls.cgi', {})
    expect(ls.json.status).toBe('OK')
    const entry = ls.json.data.find((item: any) => item.id === id)
    expect(Object.keys(entry).sort()).toEqual(['execution_date', 'id', 'request_date'])
    expect(entry.execution_date).toBe(info.execution_date)
  })

  it('refuses bad requests and unknown ids', async () => {
    expect((await api(t.emu, 'remote/request.cgi', { urls: ['ftp://x/y'], folder_id: 0 })).status).toBe(400)
    expect((await api(t.emu, 'remote/request.cgi', { urls: [`${base}/x`], folder_id: 777 })).json).toEqual({ status: 'KO', message: 'Resource not found #469' })
    const unknown = await api(t.emu, 'remote/info.cgi', { id: 999_999 })
    expect(unknown.status).toBe(404)
    expect(unknown.json).toEqual({ status: 'KO', message: 'Resource not found #469' })
  })
})
