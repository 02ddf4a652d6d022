import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KO_MESSAGE, api, getToken, sleep, startTestEmulator, uploadOne, type TestEmulator } from './helpers.js'

let t: TestEmulator
let url: string
const body = randomBytes(1000)

beforeAll(async () => {
  t = await startTestEmulator()
  url = (await uploadOne(t.emu, 'data file.bin', body)).download
})
afterAll(async () => {
  await t.dispose()
})

async function ranged(range?: string, method = 'GET') {
  const token = await getToken(t.emu, url)
  const response = await fetch(token, { method, headers: range ? { Range: range } : {} })
  return { response, bytes: Buffer.from(await response.arrayBuffer()) }
}

describe('get_token', () => {
  it('answers {status, url} with a letter-and-digits path on the download base', async () => {
    const answer = await api(t.emu, 'download/get_token.cgi', { url, single: 1 })
    expect(answer.status).toBe(200)
    expect(Object.keys(answer.json).sort()).toEqual(['status', 'url'])
    expect(answer.json.status).toBe('OK')
    expect(answer.json.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${t.emu.port}/[a-z]\\d{10}$`))
  })

  it('404 #469 for an unknown file', async () => {
    const answer = await api(t.emu, 'download/get_token.cgi', { url: 'https://1fichier.com/?nothere000' })
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual({ status: 'KO', message: 'Resource not found #469' })
    expect(answer.json.message).toMatch(KO_MESSAGE)
  })
})

describe('token URLs', () => {
  it('serve the whole file with 200 and the documented headers', async () => {
    const { response, bytes } = await ranged()
    expect(response.status).toBe(200)
    expect(bytes.equals(body)).toBe(true)
    expect(response.headers.get('accept-ranges')).toBe('bytes')
    expect(response.headers.get('content-length')).toBe('1000')
    expect(response.headers.get('content-type')).toBe('application/octet-stream')
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="data file.bin"')
    expect(response.headers.get('server')).toBe('nginx')
  })

  it('serve ranges: start, middle, end, open end, suffix', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=400-599', 400, 599],
      ['bytes=900-999', 900, 999],
      ['bytes=950-', 950, 999],
      ['bytes=-10', 990, 999],
      ['bytes=990-5000', 990, 999],
    ]
    for (const [range, start, end] of cases) {
      const { response, bytes } = await ranged(range)
      expect(response.status, range).toBe(206)
      expect(response.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/1000`)
      expect(response.headers.get('content-length'), range).toBe(String(end - start + 1))
      expect(response.headers.get('accept-ranges')).toBe('bytes')
      expect(bytes.equals(body.subarray(start, end + 1)), range).toBe(true)
    }
  })

  it('answer 416 with bytes */size when the range is unsatisfiable', async () => {
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
      const { response } = await ranged(range)
      expect(response.status, range).toBe(416)
      expect(response.headers.get('content-range')).toBe('bytes */1000')
    }
  })

  it('answer HEAD with headers only', async () => {
    const { response, bytes } = await ranged('bytes=0-9', 'HEAD')
    expect(response.status).toBe(206)
    expect(response.headers.get('content-length')).toBe('10')
    expect(bytes.length).toBe(0)
  })

  it('need no key, and count any request that carries one', async () => {
    const before = t.emu.stats().download.authHeaderSeen
    const token = await getToken(t.emu, url)
    await (await fetch(token)).arrayBuffer()
    expect(t.emu.stats().download.authHeaderSeen).toBe(before)
    await (await fetch(token, { headers: { Authorization: `Bearer ${t.emu.apiKey}` } })).arrayBuffer()
    expect(t.emu.stats().download.authHeaderSeen).toBe(before + 1)
  })

  it('serve a single:1 token exactly once, then 410 HTML', async () => {
    const token = await getToken(t.emu, url, { single: 1 })
    const first = await fetch(token, { headers: { Range: 'bytes=0-0' } })
    await first.arrayBuffer()
    expect(first.status).toBe(206)
    const second = await fetch(token)
    expect(second.status).toBe(410)
    expect(second.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await second.text()).toContain('Link expired')
  })

  it('serve a token without single many times', async () => {
    const token = await getToken(t.emu, url)
    for (let i = 0; i < 3; i++) {
      const response = await fetch(token, { headers: { Range: `bytes=${i}-${i}` } })
      expect(response.status).toBe(206)
      expect(Buffer.from(await response.arrayBuffer())[0]).toBe(body[i])
    }
  })

  it('410 for an unknown token', async () => {
    expect((await fetch(`http://127.0.0.1:${t.emu.port}/x0000000000`)).status).toBe(410)
  })

  it('410 once the file is gone', async () => {
    const victim = (await uploadOne(t.emu, 'gone.txt', 'gone')).download
    const token = await getToken(t.emu, victim)
    await api(t.emu, 'file/rm.cgi', { files: [{ url: victim }] })
    expect((await fetch(token)).status).toBe(410)
  })

  it('stream a copy from the shared blob after the original is removed', async () => {
    const source = (await uploadOne(t.emu, 'shared.bin', body)).download
    const copy = (await api(t.emu, 'file/cp.cgi', { urls: [source], folder_id: 0 })).json.urls[0].to_url
    await api(t.emu, 'file/rm.cgi', { files: [{ url: source }] })
    const bytes = Buffer.from(await (await fetch(await getToken(t.emu, copy))).arrayBuffer())
    expect(bytes.equals(body)).toBe(true)
  })

  it('stream a larger file intact', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17)
    const bigUrl = (await uploadOne(t.emu, 'big.bin', big)).download
    const bytes = Buffer.from(await (await fetch(await getToken(t.emu, bigUrl))).arrayBuffer())
    expect(bytes.equals(big)).toBe(true)
  })

  it('name non-ASCII files with filename*', async () => {
    const accented = (await uploadOne(t.emu, 'café.txt', 'x')).download
    const response = await fetch(await getToken(t.emu, accented))
    await response.arrayBuffer()
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="caf_.txt"; filename*=UTF-8''caf%C3%A9.txt`)
  })
})

describe('token expiry (time-scaled)', () => {
  it('expires 5 minutes after issue', async () => {
    // 5 min / 1000 = 300 ms.
    const scaled = await startTestEmulator({ timeScale: 1000 })
    try {
      const link = (await uploadOne(scaled.emu, 'soon.txt', 'soon')).download
      const fresh = await getToken(scaled.emu, link)
      expect((await fetch(fresh)).status).toBe(200)
      const stale = await getToken(scaled.emu, link)
      await sleep(350)
      const expired = await fetch(stale)
      expect(expired.status).toBe(410)
      expect(await expired.text()).toContain('<html>')
    } finally {
      await scaled.dispose()
    }
  })

  it('uses the configured download base', async () => {
    const based = await startTestEmulator({ downloadBase: 'http://localhost:1234/' })
    try {
      const link = (await uploadOne(based.emu, 'b.txt', 'b')).download
      expect(await getToken(based.emu, link)).toMatch(/^http:\/\/localhost:1234\/[a-z]\d{10}$/)
    } finally {
      await based.dispose()
    }
  })
})
