import { request } from 'node:http'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  FILE_URL, api, endPl, mkdir, multipartBody, postUpload, sleep, startTestEmulator, uploadServer, whirlpool, type TestEmulator,
} from './helpers.js'

let t: TestEmulator
beforeAll(async () => {
  t = await startTestEmulator({ uploadLimits: { maxFiles: 5, maxFileSize: 1024 * 1024 } })
})
afterAll(async () => {
  await t.dispose()
})

describe('upload flow', () => {
  it('stores several files: 302 to end.pl, then JSON links with string sizes and whirlpools', async () => {
    const folder = await mkdir(t.emu, 'uploads')
    const first = randomBytes(70_000)
    const second = Buffer.from('second file body')
    const server = await uploadServer(t.emu)
    const posted = await postUpload(t.emu, server.id, { did: String(folder) }, [
      { filename: 'first.bin', data: first },
      { filename: 'ünïcødé.txt', data: second },
    ])
    expect(posted.status).toBe(302)
    expect(posted.location).toBe(`/end.pl?xid=${server.id}`)

    const result = await endPl(t.emu, server.id)
    expect(result.status).toBe(200)
    expect(result.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(Object.keys(result.json).sort()).toEqual(['incoming', 'links'])
    expect(result.json.incoming).toBe(0)
    expect(result.json.links).toHaveLength(2)
    const [a, b] = result.json.links
    expect(Object.keys(a).sort()).toEqual(['download', 'filename', 'remove', 'size', 'whirlpool'])
    expect(a).toEqual({ download: expect.stringMatching(FILE_URL), filename: 'first.bin', remove: '', size: '70000', whirlpool: await whirlpool(first) })
    expect(b).toEqual({ download: expect.stringMatching(FILE_URL), filename: 'ünïcødé.txt', remove: '', size: String(second.length), whirlpool: await whirlpool(second) })

    const listing = await api(t.emu, 'file/ls.cgi', { folder_id: folder })
    expect(listing.json.items.map((item: any) => [item.filename, item.checksum])).toEqual([
      ['first.bin', a.whirlpool],
      ['ünïcødé.txt', b.whirlpool],
    ])
  })

  it('end.pl without the JSON header is an HTML report', async () => {
    const server = await uploadServer(t.emu)
    await postUpload(t.emu, server.id, {}, [{ filename: 'report.txt', data: '12345' }])
    const json = await endPl(t.emu, server.id)
    const html = await endPl(t.emu, server.id, false)
    expect(html.status).toBe(200)
    expect(html.headers.get('content-type')).toMatch(/^text\/html/)
    expect(html.text).toContain('Upload finished')
    expect(html.text).toContain('<table>')
    expect(html.text).toContain(json.json.links[0].download)
    expect(html.text).toContain('report.txt')
    expect(html.text).toContain('<td>5</td>')
  })

  it('stores in the root when did is missing or invalid', async () => {
    for (const did of [undefined, 'nonsense', '987654321']) {
      const server = await uploadServer(t.emu)
      await postUpload(t.emu, server.id, did === undefined ? {} : { did }, [{ filename: `root-${did}.txt`, data: 'x' }])
      const [link] = (await endPl(t.emu, server.id)).json.links
      expect((await api(t.emu, 'file/info.cgi', { url: link.download })).json.folder_id).toBe(0)
    }
  })

  it('drops empty parts, forbidden names and foreign fields, keeping the rest', async () => {
    const server = await uploadServer(t.emu)
    const posted = await postUpload(t.emu, server.id, {}, [
      { filename: 'empty.txt', data: '' },
      { filename: 'bad$name.txt', data: 'nope' },
      { filename: 'dir/slash.txt', data: 'nope' },
      { filename: 'other-field.txt', data: 'nope', field: 'upload' },
      { filename: 'kept.txt', data: 'kept' },
    ])
    expect(posted.status).toBe(302)
    const links = (await endPl(t.emu, server.id)).json.links
    expect(links.map((link: any) => link.filename)).toEqual(['kept.txt'])
    expect(t.emu.tree().some((entry) => entry.path.includes('empty.txt') || entry.path.includes('$'))).toBe(false)
  })

  it('answers end.pl with no links when every part was refused', async () => {
    const server = await uploadServer(t.emu)
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'zero', data: '' }])).status).toBe(302)
    expect((await endPl(t.emu, server.id)).json).toEqual({ incoming: 0, links: [] })
  })

  it('password-protects the files with dpass', async () => {
    const server = await uploadServer(t.emu)
    await postUpload(t.emu, server.id, { dpass: 'secret99' }, [{ filename: 'locked.txt', data: 'locked' }])
    const [link] = (await endPl(t.emu, server.id)).json.links
    expect((await api(t.emu, 'file/info.cgi', { url: link.download })).json.pass).toBe(1)
  })

  it('counts uploads in the stats', async () => {
    const before = t.emu.stats().upload
    const server = await uploadServer(t.emu)
    await postUpload(t.emu, server.id, {}, [{ filename: 'count.txt', data: '1234' }])
    const after = t.emu.stats().upload
    expect(after.requests).toBe(before.requests + 1)
    expect(after.files).toBe(before.files + 1)
    expect(after.bytes).toBe(before.bytes + 4)
  })
})

describe('upload refusals', () => {
  it('404 HTML for an id that get_upload_server never gave, or one already used', async () => {
    const unknown = await postUpload(t.emu, 'AAAAAAAAAA', {}, [{ filename: 'a.txt', data: 'a' }])
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('content-type')).toMatch(/^text\/html/)
    const server = await uploadServer(t.emu)
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'a.txt', data: 'a' }])).status).toBe(302)
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'a.txt', data: 'a' }])).status).toBe(404)
  })

  it('401 HTML without the Bearer key', async () => {
    const server = await uploadServer(t.emu)
    const before = t.emu.stats().authFailures
    for (const authorization of [null, 'Bearer nope']) {
      const answer = await postUpload(t.emu, server.id, {}, [{ filename: 'a.txt', data: 'a' }], authorization)
      expect(answer.status).toBe(401)
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/)
    }
    expect(t.emu.stats().authFailures).toBe(before + 2)
    // Nothing was used up: the id still works with the key.
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'a.txt', data: 'a' }])).status).toBe(302)
  })

  it('411 without Content-Length (chunked body)', async () => {
    const server = await uploadServer(t.emu)
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`http://${t.emu.uploadHost}/upload.cgi?id=${server.id}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${t.emu.apiKey}`, 'Content-Type': 'multipart/form-data; boundary=xyz', 'Transfer-Encoding': 'chunked' },
      }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end('--xyz--\r\n')
    })
    expect(status).toBe(411)
  })

  it('413 and nothing stored for too many files or a file over the limit', async () => {
    const before = t.emu.tree().length
    const tooMany = await uploadServer(t.emu)
    const parts = Array.from({ length: 6 }, (_, i) => ({ filename: `many-${i}.txt`, data: 'x' }))
    expect((await postUpload(t.emu, tooMany.id, {}, parts)).status).toBe(413)
    const tooBig = await uploadServer(t.emu)
    expect((await postUpload(t.emu, tooBig.id, {}, [{ filename: 'ok.txt', data: 'ok' }, { filename: 'big.bin', data: Buffer.alloc(1024 * 1024 + 1) }])).status).toBe(413)
    expect(t.emu.tree().length).toBe(before)
    expect((await endPl(t.emu, tooBig.id)).status).toBe(404)
    // No temp file was left behind.
    expect(await readdir(join(t.dataDir, 'tmp'))).toEqual([])
  })

  it('400 for a quoted multipart boundary', async () => {
    const server = await uploadServer(t.emu)
    const answer = await fetch(`http://${t.emu.uploadHost}/upload.cgi?id=${server.id}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.emu.apiKey}`, 'Content-Type': 'multipart/form-data; boundary="xyz"' },
      body: '--xyz--\r\n',
    })
    expect(answer.status).toBe(400)
  })

  it('end.pl: 404 HTML for an unknown xid', async () => {
    const answer = await endPl(t.emu, 'ZZZZZZZZZZ')
    expect(answer.status).toBe(404)
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/)
  })
})

describe('aborted uploads', () => {
  /** Send the head of a multipart body announcing `size` bytes, then drop the connection. */
  async function abortMidBody(id: string): Promise<void> {
    const { body, contentType } = multipartBody({}, [{ filename: 'cut.bin', data: Buffer.alloc(400_000, 1) }])
    await new Promise<void>((resolve) => {
      const req = request(`http://${t.emu.uploadHost}/upload.cgi?id=${id}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${t.emu.apiKey}`, 'Content-Type': contentType, 'Content-Length': body.length },
      })
      req.on('error', () => resolve())
      req.write(body.subarray(0, 200_000))
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 100)
    })
  }

  for (const bandwidth of [0, 1_000_000]) {
    it(`leave no temp file and a reusable id (bandwidth ${bandwidth})`, async () => {
      t.emu.setFaults({ bandwidthBytesPerSec: bandwidth })
      try {
        const server = await uploadServer(t.emu)
        await abortMidBody(server.id)
        await vi.waitFor(async () => expect(await readdir(join(t.dataDir, 'tmp'))).toEqual([]), { timeout: 3000, interval: 50 })
        await vi.waitFor(async () => expect((await postUpload(t.emu, server.id, {}, [{ filename: 'retry.txt', data: 'retry' }])).status).toBe(302), { timeout: 3000, interval: 100 })
      } finally {
        t.emu.setFaults({ bandwidthBytesPerSec: 0 })
      }
    })
  }
})

describe('upload lifetimes (time-scaled)', () => {
  it('forgets the result after 2 h and the unused id after 4 h', async () => {
    // 2 h / 36000 = 200 ms, 4 h / 36000 = 400 ms.
    const scaled = await startTestEmulator({ timeScale: 36_000 })
    try {
      const used = await uploadServer(scaled.emu)
      const unused = await uploadServer(scaled.emu)
      await postUpload(scaled.emu, used.id, {}, [{ filename: 'a.txt', data: 'a' }])
      expect((await endPl(scaled.emu, used.id)).status).toBe(200)
      await sleep(250)
      expect((await endPl(scaled.emu, used.id)).status).toBe(404)
      await sleep(200)
      expect((await postUpload(scaled.emu, unused.id, {}, [{ filename: 'a.txt', data: 'a' }])).status).toBe(404)
    } finally {
      await scaled.dispose()
    }
  })
})
