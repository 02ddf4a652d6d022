import { describe, expect, it } from 'vitest'
import { RateLimiter, type RateLimitConfig } from '../../src/emulator/rate-limiter.js'

const CONFIG: RateLimitConfig = {
  rulesEnabled: true,
  windowMs: 1000,
  maxCallsPerWindow: 3,
  folderListingGapMs: 30_000,
  allFilesListingGapMs: 3600_000,
  userInfoGapMs: 60_000,
  lockMs: 60_000,
}

function limiter(config: Partial<RateLimitConfig> = {}) {
  const clock = { now: 1_000_000 }
  const rules = new RateLimiter({ ...CONFIG, ...config }, () => clock.now)
  return { rules, clock }
}

const other = { kind: 'other' } as const

describe('RateLimiter', () => {
  it('admits 3 calls in a second and floods on the 4th', () => {
    const { rules, clock } = limiter()
    for (let i = 0; i < 3; i++) {
      expect(rules.hit('a', other)).toEqual({ allowed: true })
      clock.now += 100
    }
    expect(rules.hit('a', other)).toEqual({ allowed: false, reason: 'calls-per-second', whileLocked: false })
    expect(rules.isLocked('a')).toBe(true)
  })

  it('uses a sliding window, not fixed seconds', () => {
    const { rules, clock } = limiter()
    rules.hit('a', other) // t=0
    clock.now += 600
    rules.hit('a', other) // t=600
    rules.hit('a', other) // t=600
    clock.now += 401 // t=1001: the t=0 call left the window
    expect(rules.hit('a', other).allowed).toBe(true)
    clock.now += 100 // t=1101: 600, 600, 1001 are all within 1 s
    expect(rules.hit('a', other).allowed).toBe(false)
  })

  it('keeps clients apart', () => {
    const { rules } = limiter()
    for (let i = 0; i < 3; i++) rules.hit('a', other)
    expect(rules.hit('a', other).allowed).toBe(false)
    expect(rules.hit('b', other).allowed).toBe(true)
  })

  it('refuses a second listing of the same folder within 30 s, whichever endpoint', () => {
    const { rules, clock } = limiter()
    expect(rules.hit('a', { kind: 'listing', folderId: 7 }).allowed).toBe(true)
    clock.now += 2000
    expect(rules.hit('a', { kind: 'listing', folderId: 8 }).allowed).toBe(true)
    clock.now += 2000
    expect(rules.hit('a', { kind: 'listing', folderId: 7 })).toEqual({ allowed: false, reason: 'folder-listing', whileLocked: false })
  })

  it('allows the same folder again once 30 s have passed', () => {
    const { rules, clock } = limiter()
    rules.hit('a', { kind: 'listing', folderId: 0 })
    clock.now += 30_000
    expect(rules.hit('a', { kind: 'listing', folderId: 0 }).allowed).toBe(true)
  })

  it('allows listing all files once per hour', () => {
    const { rules, clock } = limiter({ lockMs: 10 })
    expect(rules.hit('a', { kind: 'all-files' }).allowed).toBe(true)
    clock.now += 3599_000
    expect(rules.hit('a', { kind: 'all-files' })).toEqual({ allowed: false, reason: 'all-files-listing', whileLocked: false })
    clock.now += 1000
    expect(rules.hit('a', { kind: 'all-files' }).allowed).toBe(true)
  })

  it('allows user/info once per minute', () => {
    const { rules, clock } = limiter({ lockMs: 10 })
    expect(rules.hit('a', { kind: 'user-info' }).allowed).toBe(true)
    clock.now += 59_999
    expect(rules.hit('a', { kind: 'user-info' })).toMatchObject({ allowed: false, reason: 'user-info' })
    clock.now += 60_000
    expect(rules.hit('a', { kind: 'user-info' }).allowed).toBe(true)
  })

  it('answers every call while locked without extending the lock', () => {
    const { rules, clock } = limiter()
    for (let i = 0; i < 4; i++) rules.hit('a', other) // the 4th locks at t0
    for (let i = 0; i < 10; i++) {
      clock.now += 5000
      expect(rules.hit('a', other)).toEqual({ allowed: false, reason: 'locked', whileLocked: true })
    }
    clock.now += 10_000 // t0 + 60 s
    expect(rules.hit('a', other).allowed).toBe(true)
  })

  it('does not record refused listings', () => {
    const { rules, clock } = limiter({ lockMs: 1000 })
    rules.hit('a', { kind: 'listing', folderId: 1 })
    clock.now += 20_000
    expect(rules.hit('a', { kind: 'listing', folderId: 1 }).allowed).toBe(false)
    clock.now += 10_000 // 30 s after the admitted listing, 10 s after the refused one
    expect(rules.hit('a', { kind: 'listing', folderId: 1 }).allowed).toBe(true)
  })

  it('still applies forced locks when the rules are off', () => {
    const { rules, clock } = limiter({ rulesEnabled: false })
    for (let i = 0; i < 10; i++) expect(rules.hit('a', { kind: 'user-info' }).allowed).toBe(true)
    rules.lock('a')
    expect(rules.hit('a', other)).toEqual({ allowed: false, reason: 'locked', whileLocked: true })
    clock.now += 60_000
    expect(rules.hit('a', other).allowed).toBe(true)
  })

  it('reset() clears locks and windows', () => {
    const { rules } = limiter()
    rules.hit('a', { kind: 'user-info' })
    for (let i = 0; i < 3; i++) rules.hit('a', other)
    expect(rules.isLocked('a')).toBe(true)
    rules.reset()
    expect(rules.isLocked('a')).toBe(false)
    expect(rules.hit('a', { kind: 'user-info' }).allowed).toBe(true)
  })
})
