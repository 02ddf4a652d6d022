import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { api, endPl, getToken, postUpload, startTestEmulator, uploadOne, uploadServer, type TestEmulator } from './helpers.js'
import type { EmulatorStats } from '../../src/emulator/index.js'

let t: TestEmulator
let url: string
const body = randomBytes(200_000)

beforeAll(async () => {
  t = await startTestEmulator({ faultSeed: 1234 })
  url = (await uploadOne(t.emu, 'payload.bin', body)).download
})
beforeEach(() => {
  t.emu.setFaults({ latencyMs: 0, bandwidthBytesPerSec: 0, errorRate: 0, resetRate: 0, endHtmlRate: 0, uploadResetRate: 0, lostAnswerRate: 0, floodNext: 0 })
  t.emu.resetStats()
})
afterAll(async () => {
  await t.dispose()
})

/** Bytes received before the server ended or cut the response. */
function receive(tokenUrl: string): Promise<{ status: number; length: number; received: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    request(tokenUrl, (res) => {
      let received = 0
      res.on('data', (chunk: Buffer) => (received += chunk.length))
      const finish = () => resolve({ status: res.statusCode ?? 0, length: Number(res.headers['content-length']), received, complete: res.complete })
      res.on('end', finish)
      res.on('aborted', finish)
      res.on('error', finish)
    }).on('error', reject).end()
  })
}

describe('latency', () => {
  it('delays API calls, uploads, end.pl and downloads', async () => {
    t.emu.setFaults({ latencyMs: 150 })
    let started = Date.now()
    await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    const server = await uploadServer(t.emu)
    started = Date.now()
    await postUpload(t.emu, server.id, {}, [{ filename: 'slow.txt', data: 'slow' }])
    await endPl(t.emu, server.id)
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    const token = await getToken(t.emu, url)
    started = Date.now()
    await (await fetch(token, { headers: { Range: 'bytes=0-0' } })).arrayBuffer()
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    expect(t.emu.stats().faultsInjected.latency).toBe(6)
  })
})

describe('errorRate', () => {
  it('answers API calls with 500/502/503 and an HTML or empty body', async () => {
    t.emu.setFaults({ errorRate: 1 })
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
      expect([500, 502, 503]).toContain(answer.status)
      if (answer.text === '') seen.add('empty')
      else {
        expect(answer.headers.get('content-type')).toBe('text/html')
        expect(answer.text).toContain('<center>nginx</center>')
        seen.add('html')
      }
    }
    expect(seen).toEqual(new Set(['empty', 'html']))
    expect(t.emu.stats().faultsInjected.error).toBe(12)
  })

  it('makes upload.cgi read the body, store nothing and answer 5xx; the id stays usable', async () => {
    const server = await uploadServer(t.emu)
    const before = t.emu.tree().length
    t.emu.setFaults({ errorRate: 1 })
    const failed = await postUpload(t.emu, server.id, {}, [{ filename: 'lost.txt', data: 'lost' }])
    expect(failed.status).toBeGreaterThanOrEqual(500)
    expect(t.emu.tree().length).toBe(before)
    t.emu.setFaults({ errorRate: 0 })
    expect((await endPl(t.emu, server.id)).status).toBe(404)
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'kept.txt', data: 'kept' }])).status).toBe(302)
  })

  it('answers downloads with 503', async () => {
    const token = await getToken(t.emu, url)
    t.emu.setFaults({ errorRate: 1 })
    expect((await fetch(token)).status).toBe(503)
  })
})

describe('resetRate', () => {
  it('destroys the socket part-way through a download', async () => {
    t.emu.setFaults({ resetRate: 1 })
    for (let i = 0; i < 3; i++) {
      const outcome = await receive(await getToken(t.emu, url))
      expect(outcome.status).toBe(200)
      expect(outcome.length).toBe(body.length)
      expect(outcome.complete).toBe(false)
      expect(outcome.received).toBeLessThan(body.length)
    }
    expect(t.emu.stats().faultsInjected.reset).toBe(3)
    await expect(fetch(await getToken(t.emu, url)).then((response) => response.arrayBuffer())).rejects.toThrow()
  })
})

describe('endHtmlRate', () => {
  it('answers end.pl in HTML even with JSON: 1', async () => {
    const server = await uploadServer(t.emu)
    await postUpload(t.emu, server.id, {}, [{ filename: 'html.txt', data: 'html' }])
    t.emu.setFaults({ endHtmlRate: 1 })
    const answer = await endPl(t.emu, server.id)
    expect(answer.status).toBe(200)
    expect(answer.text.startsWith('<')).toBe(true)
    expect(answer.json).toBeUndefined()
    expect(t.emu.stats().faultsInjected.endHtml).toBe(1)
  })
})

describe('uploadResetRate', () => {
  it('cuts the upload mid-body and stores nothing', async () => {
    const server = await uploadServer(t.emu)
    t.emu.setFaults({ uploadResetRate: 1 })
    await expect(postUpload(t.emu, server.id, {}, [{ filename: 'cut.bin', data: randomBytes(4 << 20) }])).rejects.toThrow()
    t.emu.setFaults({ uploadResetRate: 0 })
    expect(t.emu.stats().faultsInjected.uploadReset).toBe(1)
    expect(t.emu.tree().filter((entry) => entry.path === '/cut.bin')).toHaveLength(0)
    expect(t.emu.stats().upload.files).toBe(0)
  })
})

describe('lostAnswerRate', () => {
  it('stores the upload, then cuts the connection instead of answering; end.pl still reports it', async () => {
    const server = await uploadServer(t.emu)
    t.emu.setFaults({ lostAnswerRate: 1 })
    await expect(postUpload(t.emu, server.id, {}, [{ filename: 'lost.txt', data: 'lost answer' }])).rejects.toThrow()
    t.emu.setFaults({ lostAnswerRate: 0 })
    expect(t.emu.stats().faultsInjected.lostAnswer).toBe(1)
    expect(t.emu.tree().filter((entry) => entry.path === '/lost.txt')).toHaveLength(1)
    const answer = await endPl(t.emu, server.id)
    expect(answer.json.links.map((link: { filename: string }) => link.filename)).toEqual(['lost.txt'])
  })
})

describe('bandwidth', () => {
  it('caps download and upload throughput', async () => {
    t.emu.setFaults({ bandwidthBytesPerSec: 400_000 })
    let started = Date.now()
    const bytes = Buffer.from(await (await fetch(await getToken(t.emu, url))).arrayBuffer())
    expect(bytes.equals(body)).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400) // 200 kB at 400 kB/s
    const server = await uploadServer(t.emu)
    started = Date.now()
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'throttled.bin', data: body }])).status).toBe(302)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
  })
})

describe('admin faults endpoint and seeds', () => {
  it('reads and merges faults over HTTP, refusing bad values', async () => {
    const set = await fetch(`${t.emu.adminBase}/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 0.25, latencyMs: 5 }) })
    expect(await set.json()).toMatchObject({ errorRate: 0.25, latencyMs: 5, resetRate: 0 })
    expect(await (await fetch(`${t.emu.adminBase}/faults`)).json()).toMatchObject({ errorRate: 0.25, latencyMs: 5 })
    const bad = await fetch(`${t.emu.adminBase}/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 3 }) })
    expect(bad.status).toBe(400)
  })

  it('replays the same faults for the same seed', async () => {
    const run = async (seed: number) => {
      const e = await startTestEmulator({ faultSeed: seed, faults: { errorRate: 0.5 } })
      try {
        const statuses: number[] = []
        for (let i = 0; i < 16; i++) statuses.push((await api(e.emu, 'folder/ls.cgi', { folder_id: 0 })).status)
        return statuses
      } finally {
        await e.dispose()
      }
    }
    const first = await run(99)
    expect(await run(99)).toEqual(first)
    expect(first.some((status) => status === 200)).toBe(true)
    expect(first.some((status) => status >= 500)).toBe(true)
  })
})

describe('admin stats', () => {
  it('reports the documented shape', async () => {
    await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
    const stats = (await (await fetch(`${t.emu.adminBase}/stats`)).json()) as EmulatorStats
    expect(Object.keys(stats).sort()).toEqual(['apiCalls', 'authFailures', 'calls', 'download', 'endPl', 'faultsInjected', 'floods', 'upload'])
    expect(stats.calls['folder/ls.cgi']).toBe(1)
    expect(stats.apiCalls).toBe(1)
    expect(Object.keys(stats.floods).sort()).toEqual(['forced', 'last', 'total', 'triggered', 'whileLocked'])
    expect((await fetch(`${t.emu.adminBase}/reset-stats`, { method: 'POST' })).status).toBe(200)
    expect(t.emu.stats().apiCalls).toBe(0)
  })
})
