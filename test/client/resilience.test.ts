/**
 * The client under the service's real limits (time-scaled) and injected faults.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { whirlpool } from 'hash-wasm'
import { FichierClient } from '../../src/client/fichier-client.js'
import { Pacer } from '../../src/client/pacer.js'
import { HttpTransport, type HttpRequest, type HttpResponse } from '../../src/client/http.js'
import { uploadMayHaveArrived } from '../../src/client/retry.js'
import { API_PATHS } from '../../src/client/wire.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { captureLog, collect, testClient } from '../support/client.js'

// Rate limits time-scaled x5: enough to keep tests short, while the pacer's margin under the
// limit (400 ms spacing for 3 calls/s, 13 ms at x5) still exceeds a loaded machine's jitter.
const SCALE = 5
const source = (name: string, data: Buffer) => ({ name, size: data.length, open: () => Readable.from([data]) })

/** 200 calls fired at once: info calls, listings of a few folders again and again, user/info. */
async function burst(client: FichierClient, folders: number[], fileUrl: string): Promise<PromiseSettledResult<unknown>[]> {
  const calls: Array<Promise<unknown>> = []
  for (let i = 0; i < 200; i++) {
    if (i % 100 === 0) calls.push(client.accountInfo())
    else if (i % 25 === 5) calls.push(client.listFolder(folders[i % 2] as number))
    else calls.push(client.fileInfo(fileUrl))
  }
  return Promise.allSettled(calls)
}

describe('rate limits (emulator limits on, time-scaled)', () => {
  it('a burst of 200 calls through the pacer causes no flood; without the pacer it does', async () => {
    const scale = SCALE
    const t = await startTestEmulator({ rateLimits: true, timeScale: scale, floodLockMs: 60_000 })
    try {
      const setup = testClient(t.emu, { timeScale: scale })
      const folders = [(await setup.mkdir(0, 'a')).id, (await setup.mkdir(0, 'b')).id]
      const { uploaded } = await setup.upload(0, [source('x.txt', Buffer.from('x'))])
      await setup.close()
      t.emu.unlock()
      t.emu.resetStats()

      const paced = testClient(t.emu, { timeScale: scale })
      const results = await burst(paced, folders, uploaded[0]?.url as string)
      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      expect(t.emu.stats().apiCalls, JSON.stringify(t.emu.stats().floods)).toBe(200)
      expect(t.emu.stats().floods.total).toBe(0)
      await paced.close()

      t.emu.unlock()
      t.emu.resetStats()
      // The same burst with no spacing, no per-folder gate and no retry of floods.
      const unpaced = testClient(t.emu, { timeScale: scale, pacer: { minIntervalMs: 0, listingIntervalMs: 0, userInfoIntervalMs: 0, maxFloodRetries: 0 } })
      const unpacedResults = await burst(unpaced, folders, uploaded[0]?.url as string)
      expect(t.emu.stats().floods.total).toBeGreaterThan(0)
      expect(unpacedResults.some((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'FICHFS_FLOOD')).toBe(true)
      await unpaced.close()
    } finally {
      await t.dispose()
    }
  })

  it('after a forced flood it cools down past the lock and retries once, instead of meeting the lock again', async () => {
    // The service's documented lock: 60 s (12 s at x5).
    const t = await startTestEmulator({ rateLimits: true, timeScale: SCALE, floodLockMs: 60_000 })
    try {
      const client = testClient(t.emu, { timeScale: SCALE })
      t.emu.setFaults({ floodNext: 1 })
      const started = Date.now()
      // folder/mkdir has no gate of its own: only the cool-down decides when it is retried.
      await client.mkdir(0, 'after-the-flood')
      const waited = Date.now() - started
      expect(waited).toBeGreaterThanOrEqual(12_000)
      expect(t.emu.tree().filter((entry) => entry.path === '/after-the-flood')).toHaveLength(1)
      const floods = t.emu.stats().floods
      expect(floods.forced).toBe(1)
      expect(floods.whileLocked).toBe(0)
      expect(floods.triggered).toBe(0)
      expect(client.pacer.stats().floods).toBe(1)
      await client.close()
    } finally {
      await t.dispose()
    }
  })
})

describe('faults: 10% 5xx, mid-body resets, end.pl answering HTML', () => {
  it('uploads and downloads still complete, byte for byte, and the key never shows', async () => {
    const t = await startTestEmulator({ rateLimits: true, timeScale: SCALE, faults: { errorRate: 0.1, resetRate: 0.3, endHtmlRate: 0.5 } })
    const log = captureLog()
    try {
      const client = testClient(t.emu, { timeScale: SCALE, log: log.logger })
      const files = Array.from({ length: 8 }, (_, i) => randomBytes(50_000 + i * 150_000))
      const urls: string[] = []
      for (const [i, data] of files.entries()) {
        const { uploaded, failed } = await client.upload(0, [source(`f${i}.bin`, data)])
        expect(failed).toEqual([])
        urls.push(uploaded[0]?.url as string)
      }
      for (const [i, data] of files.entries()) {
        const got = await collect(client.readRange(urls[i] as string, 0, data.length - 1))
        expect(got.length).toBe(data.length)
        expect(got.equals(data)).toBe(true)
      }
      // Each stored file is exactly one copy with the right checksum (no duplicates left by retries).
      const stored = t.emu.tree().filter((entry) => entry.type === 'file')
      expect(stored).toHaveLength(files.length)
      for (const [i, data] of files.entries()) {
        expect(stored.find((entry) => entry.path === `/f${i}.bin`)?.whirlpool).toBe(await whirlpool(data))
      }
      const injected = t.emu.stats().faultsInjected
      expect(injected.error).toBeGreaterThan(0)
      expect(injected.reset).toBeGreaterThan(0)
      expect(injected.endHtml).toBeGreaterThan(0)
      expect(t.emu.stats().floods.total).toBe(0)
      expect(client.downloadStats().downloadResumes).toBeGreaterThan(0)
      expect(log.text()).not.toContain(t.emu.apiKey)
      await client.close()
    } finally {
      await t.dispose()
    }
  })
})

describe('failed uploads: sent again by the client only when no copy can be on 1fichier', () => {
  type Faults = NonNullable<Parameters<typeof startTestEmulator>[0]>['faults']
  type ClientOptions = NonNullable<Parameters<typeof testClient>[1]>['client']

  /** An emulator with `faults` and a client with `client` options, both closed afterwards. */
  async function withClient(faults: Faults, client: ClientOptions, body: (t: TestEmulator, client: FichierClient) => Promise<void>): Promise<void> {
    const t = await startTestEmulator({ faults })
    try {
      const c = testClient(t.emu, { client })
      await body(t, c)
      await c.close()
    } finally {
      await t.dispose()
    }
  }
  /** What the upload rejected with (undefined if it succeeded). */
  const failureOf = (upload: Promise<unknown>) => upload.then(() => undefined, (error: unknown) => error)
  const copies = (t: TestEmulator, path: string) => t.emu.tree().filter((entry) => entry.path === path)

  it('an upload node that stays silent after the whole body is given up after uploadSilenceMs, and not sent to again', () =>
    withClient({ latencyMs: 1500 }, { uploadSilenceMs: 300, uploadAttempts: 2 }, async (t, client) => {
      const started = Date.now()
      const outcome = await failureOf(client.upload(0, [source('stall.txt', Buffer.from('stall'))]))
      expect(outcome).toMatchObject({ code: 'FICHFS_TIMEOUT', uploadBodyEnded: true })
      // The node had every byte: the file may be there, and only a listing can tell (the
      // uploader's), so the client does not send it again (it would make a second copy).
      expect(uploadMayHaveArrived(outcome)).toBe(true)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(t.emu.stats().calls[API_PATHS.getUploadServer]).toBe(1)
    }))

  it('an upload whose answer is lost after the node stored it is not sent again: one copy, not one per attempt', () =>
    withClient({ lostAnswerRate: 1 }, { uploadAttempts: 4 }, async (t, client) => {
      const outcome = await failureOf(client.upload(0, [source('lost.bin', randomBytes(300_000))]))
      expect(outcome).toMatchObject({ code: 'FICHFS_NETWORK', uploadBodyEnded: true })
      expect(uploadMayHaveArrived(outcome)).toBe(true)
      expect(t.emu.stats().faultsInjected.lostAnswer).toBe(1)
      expect(copies(t, '/lost.bin')).toHaveLength(1)
    }))

  // A gateway in front of the node: the request goes through (the node stores the file), the
  // gateway answers 502 instead of the node's 302.
  class Gateway extends HttpTransport {
    override async send(req: HttpRequest): Promise<HttpResponse> {
      const response = await super.send(req)
      if (req.label !== 'upload') return response
      await response.dump()
      return { ...response, status: 502, text: async () => '<html><body>502 Bad Gateway</body></html>' }
    }
  }

  it('a gateway answering 502 after the last byte is not sent to again: the node behind it may have stored the files', () =>
    withClient(undefined, { http: new Gateway(), uploadAttempts: 4 }, async (t, client) => {
      const outcome = await failureOf(client.upload(0, [source('gateway.bin', randomBytes(200_000))]))
      expect(outcome).toMatchObject({ code: 'FICHFS_HTTP', httpStatus: 502, uploadBodyEnded: true })
      expect(uploadMayHaveArrived(outcome)).toBe(true)
      expect(t.emu.stats().calls[API_PATHS.getUploadServer]).toBe(1)
      expect(copies(t, '/gateway.bin')).toHaveLength(1)
    }))

  it('a local hash that fails after 1fichier took the file is an upload that may have arrived, not a plain error', () =>
    withClient(undefined, undefined, async (t, client) => {
      const hashFailed = Promise.reject(new Error('the hashing thread died'))
      hashFailed.catch(() => undefined)
      const outcome = await failureOf(client.upload(0, [{ ...source('unhashed.bin', randomBytes(100_000)), whirlpool: hashFailed }]))
      expect(outcome).toMatchObject({ code: 'FICHFS_UPLOAD_FAILED', endpoint: 'end.pl', uploadBodyEnded: true })
      expect(String((outcome as Error).message)).toContain('the hashing thread died')
      expect(uploadMayHaveArrived(outcome)).toBe(true)
      expect(t.emu.stats().calls[API_PATHS.getUploadServer]).toBe(1)
      expect(copies(t, '/unhashed.bin')).toHaveLength(1)
    }))

  it('an upload cut mid-body is sent again on a fresh node: nothing of it can be on 1fichier', () =>
    withClient({ uploadResetRate: 1 }, { uploadAttempts: 3 }, async (t, client) => {
      const data = randomBytes(32 << 20)
      const outcome = await failureOf(client.upload(0, [source('cut.bin', data)]))
      expect(outcome).toMatchObject({ code: 'FICHFS_NETWORK', uploadBodyEnded: false })
      expect(uploadMayHaveArrived(outcome)).toBe(false)
      expect(t.emu.stats().calls[API_PATHS.getUploadServer]).toBe(3)
      expect(t.emu.stats().faultsInjected.uploadReset).toBe(3)
      // Once the node stops cutting, the next attempt stores the one copy.
      t.emu.setFaults({ uploadResetRate: 0 })
      const { uploaded } = await client.upload(0, [source('cut.bin', data)])
      expect(uploaded).toHaveLength(1)
      expect(copies(t, '/cut.bin')).toHaveLength(1)
    }))

  it('an upload that may have arrived, then could not reach the service at all, reports the failure after which it may have arrived', () =>
    withClient({ latencyMs: 1500 }, { uploadSilenceMs: 300, uploadAttempts: 4, uploadRetryDelayMs: 50 }, async (t, client) => {
      // The first attempt's POST is under way (the node may keep the file) when the service goes.
      const gone = new Promise<void>((resolve) => setTimeout(() => void t.emu.close().then(resolve), 2300))
      const outcome = await failureOf(client.upload(0, [source('gone.txt', Buffer.from('gone'))]))
      await gone
      // Not the last attempt's ECONNREFUSED (an outage, where nothing arrived): the uploader
      // looks for an arrived copy before sending the file again only after such a failure.
      expect(outcome).toMatchObject({ endpoint: 'upload' })
      expect(['FICHFS_NETWORK', 'FICHFS_TIMEOUT']).toContain((outcome as { code?: string }).code)
      expect(String((outcome as Error).message)).not.toMatch(/ECONNREFUSED/)
    }))
})

describe('pacer (pure, fake clock)', () => {
  function fakeTime() {
    let now = 0
    return {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms
      },
    }
  }

  it('spaces calls by the minimum interval and gates listings per folder', async () => {
    const time = fakeTime()
    const pacer = new Pacer({ minIntervalMs: 400, listingIntervalMs: 30_000 }, time)
    const starts: number[] = []
    for (let i = 0; i < 3; i++) await pacer.run('x', {}, async () => starts.push(time.now()))
    expect(starts).toEqual([0, 400, 800])
    const listings: number[] = []
    await pacer.run('ls', { listing: 7 }, async () => listings.push(time.now()))
    await pacer.run('ls', { listing: 8 }, async () => listings.push(time.now()))
    await pacer.run('ls', { listing: 7 }, async () => listings.push(time.now()))
    expect(listings[1] as number - (listings[0] as number)).toBeLessThan(1000)
    expect(listings[2] as number - (listings[0] as number)).toBeGreaterThanOrEqual(30_000)
    expect(pacer.listingAllowedNow(7)).toBe(false)
  })

  it('gives up on final errors at once and retries transient ones with back-off', async () => {
    const time = fakeTime()
    const pacer = new Pacer({ minIntervalMs: 1, maxRetries: 3 }, { ...time, random: () => 0.5 })
    const { FichierApiError: ApiError } = await import('../../src/client/errors.js')
    let calls = 0
    await expect(pacer.run('x', {}, async () => {
      calls++
      throw new ApiError('FICHFS_NOT_FOUND', 'nope', { endpoint: 'x', httpStatus: 404 })
    })).rejects.toMatchObject({ code: 'FICHFS_NOT_FOUND' })
    expect(calls).toBe(1)
    calls = 0
    const result = await pacer.run('x', {}, async () => {
      if (++calls < 3) throw new ApiError('FICHFS_HTTP', 'busy', { endpoint: 'x', httpStatus: 503 })
      return 'ok'
    })
    expect(result).toBe('ok')
    expect(calls).toBe(3)
    expect(pacer.stats().retries).toBe(2)
  })

  it('cools down longer than the 60 s lock after a flood, longer still when floods repeat', async () => {
    const time = fakeTime()
    const pacer = new Pacer({ minIntervalMs: 1 }, time)
    const { FichierApiError: ApiError } = await import('../../src/client/errors.js')
    const starts: number[] = []
    await pacer.run('x', {}, async () => {
      starts.push(time.now())
      if (starts.length < 3) throw new ApiError('FICHFS_FLOOD', 'Flood detected: IP Locked #374', { endpoint: 'x', httpStatus: 403, apiCode: 374 })
    })
    expect(starts[1] as number - (starts[0] as number)).toBeGreaterThan(60_000)
    expect(starts[2] as number - (starts[1] as number)).toBeGreaterThan(120_000)
  })
})
