/**
 * Pacing several clients of one IP against the emulator's real rules (time-scaled; the flood
 * lock is the documented 60 s):
 *   - processes of one machine book their calls in one gate file and never flood each other;
 *   - clients that cannot see each other's gates (two machines behind one NAT) meet the limit
 *     once: the first cool-down outlasts the lock, and both then space their calls wider, so
 *     no call meets the lock again and no second flood follows.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSharedGates } from '../../src/cache/gate-db.js'
import { ApiCaller } from '../../src/client/api-call.js'
import { MemoryGateStore, type GateStore } from '../../src/client/gate-store.js'
import { HttpTransport } from '../../src/client/http.js'
import { DEFAULT_PACER_OPTIONS, Pacer, scalePacerOptions } from '../../src/client/pacer.js'
import { API_PATHS } from '../../src/client/wire.js'
import type { Emulator } from '../../src/emulator/index.js'
import { startTestEmulator } from '../emulator/helpers.js'

/** One fichfs process's view: its own pacer (and HTTP connections) over `store`. */
function caller(emu: Emulator, store: GateStore, scale: number) {
  const pacer = new Pacer(scalePacerOptions(DEFAULT_PACER_OPTIONS, scale), { store, scope: { service: new URL(emu.apiBase).origin, account: 'test' } })
  const http = new HttpTransport()
  const api = new ApiCaller(http, pacer, emu.apiKey, emu.apiBase)
  return {
    pacer,
    /** `count` cheap calls (get_upload_server has no gate of its own), all asked at once. */
    burst: (count: number) => Promise.all(Array.from({ length: count }, () => api.call(API_PATHS.getUploadServer, undefined, {}, { method: 'GET' }))),
    close: () => http.close(),
  }
}

describe('a call that arrives late', () => {
  it('does not squeeze the next calls into the service\'s window: the third call after it waits for its answer', async () => {
    // 40 ms spacing, 3 calls per 100 ms. The first call reaches the service 110 ms late (a busy
    // network or server); the service counts calls when they arrive and answers at once.
    const pacer = new Pacer({ minIntervalMs: 40, maxIntervalMs: 40 })
    const origin = Date.now()
    const arrivals: number[] = []
    await Promise.all(Array.from({ length: 8 }, () => pacer.run('x', {}, async () => {
      const delay = arrivals.length === 0 ? 110 : 0
      arrivals.push(Date.now() - origin + delay)
      await new Promise((resolve) => setTimeout(resolve, delay))
    })))
    arrivals.sort((a, b) => a - b)
    // No four arrivals within the window (the emulator's rule), with 5 ms for timer jitter.
    for (let i = 3; i < arrivals.length; i++) expect(arrivals[i] as number - (arrivals[i - 3] as number), JSON.stringify(arrivals)).toBeGreaterThanOrEqual(95)
  })
})

describe('pacing several clients of one IP', () => {
  it('two processes sharing the gate file: a burst from both causes no flood', async () => {
    // x2: the pacer's margin under 3 calls/s (400 ms against 333) stays well above the jitter
    // of one process running two clients and the emulator.
    const t = await startTestEmulator({ rateLimits: true, timeScale: 2 })
    const dir = await mkdtemp(join(tmpdir(), 'fichfs-gates-'))
    const stores = [openSharedGates(dir), openSharedGates(dir)]
    try {
      const [a, b] = stores.map((store) => caller(t.emu, store, 2)) as [ReturnType<typeof caller>, ReturnType<typeof caller>]
      await Promise.all([a.burst(30), b.burst(30)])
      expect(t.emu.stats().apiCalls).toBe(60)
      expect(t.emu.stats().floods.total, JSON.stringify(t.emu.stats().floods.last)).toBe(0)
      await Promise.all([a.close(), b.close()])
    } finally {
      for (const store of stores) store.close()
      await rm(dir, { recursive: true, force: true })
      await t.dispose()
    }
  })

  it('two machines (no shared gates): one flood, a cool-down past the lock, then no call meets the lock again', async () => {
    // x2: the lock is 30 s. At x5 a full suite's load (both clients and the emulator share one
    // event loop, so its lag bunches arrivals) once brought four calls within the 200 ms window
    // after the cool-down; at x2 the window is 500 ms and the lag no longer reaches it.
    const t = await startTestEmulator({ rateLimits: true, timeScale: 2 })
    try {
      const [a, b] = [caller(t.emu, new MemoryGateStore(), 2), caller(t.emu, new MemoryGateStore(), 2)]
      const started = Date.now()
      await Promise.all([a.burst(30), b.burst(30)])
      const floods = t.emu.stats().floods
      // The calls that met the limit: the one that broke it, and at most one of the other
      // client's already on its way; after the cool-downs, nothing.
      expect(floods.triggered, JSON.stringify(floods.last)).toBe(1)
      expect(floods.whileLocked, JSON.stringify(floods.last)).toBeLessThanOrEqual(1)
      expect(a.pacer.stats().floods + b.pacer.stats().floods).toBe(floods.total)
      // Every call went through in the end, after at least one cool-down (the lock is 30 s).
      expect(t.emu.stats().apiCalls - floods.total).toBe(60)
      expect(Date.now() - started).toBeGreaterThan(30_000)
      await Promise.all([a.close(), b.close()])
    } finally {
      await t.dispose()
    }
  }, 180_000)
})
