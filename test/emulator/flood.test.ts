import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { api, endPl, mkdir, postUpload, sleep, startTestEmulator, uploadServer, type TestEmulator } from './helpers.js'

const FLOOD = '{"status":"KO","message":"Flood detected: IP Locked #374"}'

describe('calls per second (time-scaled)', () => {
  let t: TestEmulator
  beforeAll(async () => {
    // Window 1 s / 4 = 250 ms; lock 4 s / 4 = 1 s.
    t = await startTestEmulator({ rateLimits: true, timeScale: 4, floodLockMs: 4000 })
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('floods the 4th call within a second with 403 #374, then locks without extending', async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => api(t.emu, 'upload/get_upload_server.cgi', undefined, { method: 'GET' })))
    const lockedAt = Date.now()
    const statuses = answers.map((answer) => answer.status).sort()
    expect(statuses).toEqual([200, 200, 200, 403])
    const flood = answers.find((answer) => answer.status === 403)
    expect(flood?.text).toBe(FLOOD)
    expect(flood?.headers.get('content-type')).toBe('application/json; charset=utf-8')

    await sleep(100)
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).text).toBe(FLOOD)
    // Locked callers are refused before their key is even looked at.
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 }, { authorization: 'Bearer nope' })).status).toBe(403)
    await sleep(Math.max(0, lockedAt + 600 - Date.now()))
    expect((await api(t.emu, 'user/info.cgi')).status).toBe(403)
    // The lock started at the flood (1 s); the refused calls did not push it further.
    await sleep(Math.max(0, lockedAt + 1100 - Date.now()))
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).status).toBe(200)

    const floods = t.emu.stats().floods
    expect(floods.triggered).toBe(1)
    expect(floods.whileLocked).toBe(3)
    expect(floods.total).toBe(4)
    expect(floods.last[0]).toMatchObject({ reason: 'calls-per-second', path: 'upload/get_upload_server.cgi' })
    expect(floods.last[1]).toMatchObject({ reason: 'locked', path: 'folder/ls.cgi' })
  })
})

describe('per-call rules (time-scaled)', () => {
  let t: TestEmulator
  let other: number
  // Window 10 ms, listing gap 300 ms, user/info gap 600 ms, all-files gap 36 s, lock 50 ms.
  const SPACING = 25
  beforeAll(async () => {
    t = await startTestEmulator({ rateLimits: true, timeScale: 100, floodLockMs: 5000 })
    other = await mkdir(t.emu, 'other')
  })
  beforeEach(() => {
    t.emu.unlock()
    t.emu.resetStats()
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('refuses a second listing of one folder within 30 s, by folder/ls or file/ls', async () => {
    const first = Date.now()
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).status).toBe(200)
    await sleep(SPACING)
    const second = await api(t.emu, 'file/ls.cgi', { folder_id: 0 })
    expect(second.status).toBe(403)
    expect(second.text).toBe(FLOOD)
    expect(t.emu.stats().floods.last.at(-1)).toMatchObject({ reason: 'folder-listing', path: 'file/ls.cgi' })
    await sleep(60) // the lock ends
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: other })).status).toBe(200)
    await sleep(SPACING)
    expect((await api(t.emu, 'file/ls.cgi', {})).status).toBe(403) // absent folder_id is the root
    await sleep(Math.max(60, first + 320 - Date.now()))
    expect((await api(t.emu, 'file/ls.cgi', { folder_id: 0 })).status).toBe(200)
  })

  it('allows file/ls of folder -1 once per hour', async () => {
    expect((await api(t.emu, 'file/ls.cgi', { folder_id: -1 })).status).toBe(200)
    await sleep(SPACING)
    expect((await api(t.emu, 'file/ls.cgi', { folder_id: -1 })).text).toBe(FLOOD)
    expect(t.emu.stats().floods.last.at(-1)?.reason).toBe('all-files-listing')
  })

  it('allows user/info once per minute', async () => {
    const first = Date.now()
    expect((await api(t.emu, 'user/info.cgi')).status).toBe(200)
    await sleep(SPACING)
    expect((await api(t.emu, 'user/info.cgi')).text).toBe(FLOOD)
    expect(t.emu.stats().floods.last.at(-1)?.reason).toBe('user-info')
    await sleep(Math.max(60, first + 620 - Date.now()))
    expect((await api(t.emu, 'user/info.cgi')).status).toBe(200)
  })

  it('does not count the upload node, end.pl or downloads', async () => {
    const server = await uploadServer(t.emu)
    expect((await postUpload(t.emu, server.id, {}, [{ filename: 'f.txt', data: 'f' }])).status).toBe(302)
    for (let i = 0; i < 6; i++) {
      expect((await endPl(t.emu, server.id)).status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${t.emu.port}/x0000000000`)).status).toBe(410)
    }
    await sleep(SPACING)
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: other })).status).toBe(200)
  })

  it('is lifted by POST /__emulator/unlock', async () => {
    await api(t.emu, 'user/info.cgi')
    await sleep(SPACING)
    expect((await api(t.emu, 'user/info.cgi')).status).toBe(403)
    const unlocked = await fetch(`${t.emu.adminBase}/unlock`, { method: 'POST' })
    expect(unlocked.status).toBe(200)
    expect((await api(t.emu, 'user/info.cgi')).status).toBe(200)
  })
})

describe('forced floods', () => {
  it('floodNext answers the next N calls with the flood 403 and locks, even with rules off', async () => {
    const t = await startTestEmulator({ rateLimits: false, floodLockMs: 60_000 })
    try {
      t.emu.setFaults({ floodNext: 2 })
      expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).text).toBe(FLOOD)
      expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).text).toBe(FLOOD)
      expect(t.emu.faults().floodNext).toBe(0)
      expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).status).toBe(403) // still locked
      const stats = t.emu.stats()
      expect(stats.floods).toMatchObject({ forced: 2, whileLocked: 1, triggered: 0, total: 3 })
      expect(stats.faultsInjected.flood).toBe(2)
      t.emu.unlock()
      expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })).status).toBe(200)
    } finally {
      await t.dispose()
    }
  })
})
