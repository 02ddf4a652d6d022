import { describe, expect, it } from 'vitest'
import { formatApiDate, parseApiDate } from '../../src/client/dates.js'

const HOUR = 3_600_000
const utc = (iso: string): number => new Date(iso).getTime()
const parsed = (text: string): number | undefined => parseApiDate(text)?.getTime()

describe('parseApiDate', () => {
  it('reads winter dates as UTC+1 and summer dates as UTC+2', () => {
    expect(parsed('2026-01-15 12:00:00')).toBe(utc('2026-01-15T11:00:00Z'))
    expect(parsed('2026-07-14 12:00:00')).toBe(utc('2026-07-14T10:00:00Z'))
    expect(parsed('2025-12-31 23:59:59')).toBe(utc('2025-12-31T22:59:59Z'))
    expect(parsed('2026-01-01 00:30:00')).toBe(utc('2025-12-31T23:30:00Z'))
    expect(parsed('2024-02-29 08:15:42')).toBe(utc('2024-02-29T07:15:42Z'))
  })

  it('handles the 2026 spring change (29 March, 02:00 → 03:00)', () => {
    expect(parsed('2026-03-29 01:59:59')).toBe(utc('2026-03-29T00:59:59Z'))
    // 02:00–02:59 never happens: shifted forward by the hour that was skipped.
    expect(parsed('2026-03-29 02:00:00')).toBe(utc('2026-03-29T01:00:00Z'))
    expect(parsed('2026-03-29 02:30:00')).toBe(utc('2026-03-29T01:30:00Z'))
    expect(parsed('2026-03-29 02:59:59')).toBe(utc('2026-03-29T01:59:59Z'))
    expect(parsed('2026-03-29 03:00:00')).toBe(utc('2026-03-29T01:00:00Z'))
    expect(parsed('2026-03-29 03:00:01')).toBe(utc('2026-03-29T01:00:01Z'))
    expect(parsed('2026-03-28 02:30:00')).toBe(utc('2026-03-28T01:30:00Z'))
    expect(parsed('2026-03-30 02:30:00')).toBe(utc('2026-03-30T00:30:00Z'))
  })

  it('handles the 2026 autumn change (25 October, 03:00 → 02:00)', () => {
    expect(parsed('2026-10-25 01:59:59')).toBe(utc('2026-10-24T23:59:59Z'))
    // 02:00–02:59 happens twice: the first time, still in summer time, is chosen.
    expect(parsed('2026-10-25 02:00:00')).toBe(utc('2026-10-25T00:00:00Z'))
    expect(parsed('2026-10-25 02:30:00')).toBe(utc('2026-10-25T00:30:00Z'))
    expect(parsed('2026-10-25 02:59:59')).toBe(utc('2026-10-25T00:59:59Z'))
    expect(parsed('2026-10-25 03:00:00')).toBe(utc('2026-10-25T02:00:00Z'))
    expect(parsed('2026-10-24 02:30:00')).toBe(utc('2026-10-24T00:30:00Z'))
    expect(parsed('2026-10-26 02:30:00')).toBe(utc('2026-10-26T01:30:00Z'))
  })

  it('tolerates surrounding blanks and a T separator', () => {
    expect(parsed('  2026-01-15 12:00:00\n')).toBe(utc('2026-01-15T11:00:00Z'))
    expect(parsed('2026-01-15T12:00:00')).toBe(utc('2026-01-15T11:00:00Z'))
  })

  it.each([
    '',
    '   ',
    'garbage',
    'null',
    '2026-01-15',
    '2026-01-15 12:00',
    '2026-01-15 12:00:00.123',
    '2026-01-15T12:00:00Z',
    '2026-01-15 12:00:00 +0100',
    '26-01-15 12:00:00',
    '2026-1-15 12:00:00',
    '2026/01/15 12:00:00',
    '2026-00-15 12:00:00',
    '2026-13-01 00:00:00',
    '2026-01-00 00:00:00',
    '2026-01-32 00:00:00',
    '2026-02-29 00:00:00',
    '2026-04-31 00:00:00',
    '2026-01-15 24:00:00',
    '2026-01-15 12:60:00',
    '2026-01-15 12:00:60',
    '２０２６-01-15 12:00:00',
  ])('returns undefined for %j', (text) => {
    expect(parseApiDate(text)).toBeUndefined()
  })

  it('returns undefined for values that are not strings', () => {
    for (const v of [undefined, null, 0, 1771234567, {}, []]) {
      expect(parseApiDate(v as unknown as string)).toBeUndefined()
    }
  })
})

describe('formatApiDate', () => {
  it('writes Paris wall-clock time in winter and summer', () => {
    expect(formatApiDate(new Date('2026-01-15T11:00:00Z'))).toBe('2026-01-15 12:00:00')
    expect(formatApiDate(new Date('2026-07-14T10:00:00Z'))).toBe('2026-07-14 12:00:00')
    expect(formatApiDate(new Date('2025-12-31T23:30:00Z'))).toBe('2026-01-01 00:30:00')
    expect(formatApiDate(new Date('2026-01-14T23:00:00Z'))).toBe('2026-01-15 00:00:00')
  })

  it('follows the 2026 changes', () => {
    expect(formatApiDate(new Date('2026-03-29T00:59:59Z'))).toBe('2026-03-29 01:59:59')
    expect(formatApiDate(new Date('2026-03-29T01:00:00Z'))).toBe('2026-03-29 03:00:00')
    expect(formatApiDate(new Date('2026-10-25T00:59:59Z'))).toBe('2026-10-25 02:59:59')
    expect(formatApiDate(new Date('2026-10-25T01:00:00Z'))).toBe('2026-10-25 02:00:00')
    expect(formatApiDate(new Date('2026-10-25T01:59:59Z'))).toBe('2026-10-25 02:59:59')
    expect(formatApiDate(new Date('2026-10-25T02:00:00Z'))).toBe('2026-10-25 03:00:00')
  })

  it('drops milliseconds rather than rounding', () => {
    expect(formatApiDate(new Date('2026-01-15T11:00:00.999Z'))).toBe('2026-01-15 12:00:00')
    expect(formatApiDate(new Date('1969-12-31T22:59:59.500Z'))).toBe('1969-12-31 23:59:59')
  })

  it('throws on an invalid Date', () => {
    expect(() => formatApiDate(new Date(Number.NaN))).toThrow(RangeError)
  })
})

describe('round trips', () => {
  // Deterministic instants: random whole seconds over 1980–2100, plus every 5 minutes across
  // both 2026 changes.
  const instants: number[] = []
  let s = 42
  const next = (): number => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const from = utc('1980-01-01T00:00:00Z')
  const to = utc('2100-01-01T00:00:00Z')
  for (let i = 0; i < 5000; i++) instants.push(Math.floor((from + next() * (to - from)) / 1000) * 1000)
  for (const day of ['2026-03-28T22:00:00Z', '2026-10-24T22:00:00Z']) {
    for (let t = utc(day); t < utc(day) + 6 * HOUR; t += 5 * 60_000) instants.push(t)
  }

  it('parseApiDate(formatApiDate(t)) gives t back, or the first of two equal wall times', () => {
    let repeated = 0
    for (const t of instants) {
      const text = formatApiDate(new Date(t))
      const back = parsed(text)
      if (back === t) continue
      // Only the second pass through the autumn hour may differ: it reads as the first one.
      expect(formatApiDate(new Date(t - HOUR))).toBe(text)
      expect(back).toBe(t - HOUR)
      repeated++
    }
    // The 5-minute sweep crosses one repeated hour: 12 instants.
    expect(repeated).toBeGreaterThanOrEqual(12)
  })

  it('formatApiDate(parseApiDate(s)) gives s back for every wall time that exists', () => {
    for (const t of instants) {
      const text = formatApiDate(new Date(t))
      expect(formatApiDate(parseApiDate(text)!)).toBe(text)
    }
  })
})

describe('Paris offsets without ICU (1996–2099)', () => {
  it('agree with ICU around every change and at random instants', async () => {
    const { parisOffsetByIcu } = await import('../../src/client/dates.js')
    const icuParse = (text: string): number | undefined => {
      // The same wall-clock reading, resolved with ICU offsets only (the reference).
      const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
      if (!m) return undefined
      const local = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
      const fits = [...new Set([parisOffsetByIcu(local - 86_400_000), parisOffsetByIcu(local + 86_400_000)])]
        .map((offset) => local - offset).filter((instant) => parisOffsetByIcu(instant) === local - instant)
      return fits.length > 0 ? Math.min(...fits) : local - parisOffsetByIcu(local - 86_400_000)
    }
    let seed = 12345
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const instants: number[] = []
    for (let year = 1996; year <= 2099; year++) {
      for (const month of [2, 9]) {
        const lastDay = Date.UTC(year, month + 1, 0)
        const change = lastDay - new Date(lastDay).getUTCDay() * 86_400_000 + HOUR
        for (const delta of [-HOUR - 1000, -1000, -1, 0, 1, 1000, HOUR, 2 * HOUR]) instants.push(change + delta)
      }
    }
    for (let i = 0; i < 3000; i++) instants.push(Date.UTC(1996, 0, 1) + Math.floor(random() * (Date.UTC(2100, 0, 1) - Date.UTC(1996, 0, 1))))
    for (const instant of instants) {
      const whole = Math.floor(instant / 1000) * 1000
      const text = formatApiDate(new Date(whole))
      // Formatting with the rule gives ICU's wall clock, and reading it back gives ICU's instant.
      const wall = new Date(whole + parisOffsetByIcu(whole))
      expect(text).toBe(wall.toISOString().slice(0, 19).replace('T', ' '))
      expect(parsed(text)).toBe(icuParse(text))
    }
  })
})
