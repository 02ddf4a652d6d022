/**
 * 1fichier dates: `YYYY-MM-DD HH:MM:SS`, no zone, French local time (Europe/Paris, CET/CEST;
 * shared/1fichier-api.md §2).
 *
 * From 1996 to 2099 the offset is the EU rule ("last Sunday of March/October", 01:00 UTC),
 * computed directly: ICU is slow for thousands of dates per listing. Other dates use the ICU
 * time-zone data built into Node (Intl.DateTimeFormat with timeZone 'Europe/Paris'), so
 * historic dates come out right without a date library; the unit test checks the rule against
 * ICU over the whole range. The process's own TZ never matters.
 */

/** Built on first use: creating it loads ICU's time-zone data (~6.5 MiB resident), which dates from 1996 to 2099 never need. */
let paris: Intl.DateTimeFormat | undefined
const PARIS = () =>
  (paris ??= new Intl.DateTimeFormat('en-US', {
    timeZone: 'Europe/Paris',
    // h23, not hour12:false: some ICU versions print midnight as "24" with the latter.
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }))

const DAY_MS = 86_400_000

interface WallClock {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** Paris wall-clock reading of an instant (ms since the epoch), to the second. */
function parisWallClock(ms: number): WallClock {
  const w: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const part of PARIS().formatToParts(ms)) {
    switch (part.type) {
      case 'year':
      case 'month':
      case 'day':
      case 'hour':
      case 'minute':
      case 'second':
        w[part.type] = Number(part.value)
    }
  }
  return w
}

/** The wall clock read as if it were UTC, in ms; the difference to the instant is the offset. */
function wallAsUtc(w: WallClock): number {
  const d = new Date(0)
  // setUTCFullYear, unlike Date.UTC, doesn't map years 0–99 to 1900–1999.
  d.setUTCFullYear(w.year, w.month - 1, w.day)
  d.setUTCHours(w.hour, w.minute, w.second, 0)
  return d.getTime()
}

/** Paris's UTC offset in ms at an instant, from ICU's time-zone data (any date). */
export function parisOffsetByIcu(ms: number): number {
  const whole = Math.floor(ms / 1000) * 1000
  return wallAsUtc(parisWallClock(whole)) - whole
}

const HOUR_MS = 3_600_000
/** Where the EU rule is the whole truth for Paris: 1996-01-01 to 2100-01-01 (UTC). */
const EU_RULE_FROM = Date.UTC(1996, 0, 1)
const EU_RULE_UNTIL = Date.UTC(2100, 0, 1)

/** 01:00 UTC on the last Sunday of a month (0-based), when the EU's clocks change. */
function lastSundayAt1Utc(year: number, month: number): number {
  const lastDay = Date.UTC(year, month + 1, 0)
  return lastDay - new Date(lastDay).getUTCDay() * DAY_MS + HOUR_MS
}

const summerCache = new Map<number, [number, number]>()

/**
 * Paris's UTC offset in ms at the given instant (3_600_000 in winter, 7_200_000 in summer).
 * From 1996 (when the EU unified the autumn change) to 2099 this is the EU rule, summer time
 * from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October,
 * computed without ICU (a listing of 5,000 files reads 5,000 dates, and ICU's formatToParts
 * costs tens of µs each). Outside, and for any year the rule may one day change, ICU answers.
 * test/client/dates.test.ts checks both agree over the whole range.
 */
function parisOffset(ms: number): number {
  if (ms < EU_RULE_FROM || ms >= EU_RULE_UNTIL) return parisOffsetByIcu(ms)
  const year = new Date(ms).getUTCFullYear()
  let summer = summerCache.get(year)
  if (!summer) {
    summer = [lastSundayAt1Utc(year, 2), lastSundayAt1Utc(year, 9)]
    summerCache.set(year, summer)
  }
  return ms >= summer[0] && ms < summer[1] ? 2 * HOUR_MS : HOUR_MS
}

const API_DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/

/**
 * Reads a 1fichier date (Paris wall-clock time) as an instant. Returns undefined for anything
 * that is not a real date in that format, including a missing field, so callers can pass API
 * values through unchecked. Around DST changes, where the wall clock is not one instant:
 *   - the repeated autumn hour (02:00–02:59 on the last Sunday of October) gives its first
 *     occurrence, still in summer time;
 *   - the skipped spring hour (02:00–02:59 on the last Sunday of March) is shifted forward by
 *     the gap, so 02:30 reads as 03:30 summer time (what a clock that missed the change shows).
 */
export function parseApiDate(text: string): Date | undefined {
  if (typeof text !== 'string') return undefined
  const m = API_DATE.exec(text.trim())
  if (!m) return undefined
  const w: WallClock = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
  }
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.hour > 23 || w.minute > 59 || w.second > 59) {
    return undefined
  }
  const local = wallAsUtc(w)
  // Rejects 30 February and the like, which Date would silently roll into March.
  const check = new Date(local)
  if (check.getUTCMonth() !== w.month - 1 || check.getUTCDate() !== w.day) return undefined

  // The offset either side of this wall time; Paris never changes twice within two days.
  const before = parisOffset(local - DAY_MS)
  const after = parisOffset(local + DAY_MS)
  const fits = [...new Set([before, after])]
    .map((offset) => local - offset)
    .filter((instant) => parisOffset(instant) === local - instant)
  if (fits.length > 0) return new Date(Math.min(...fits))
  // In the gap no offset fits: read it with the offset in force before the change.
  return new Date(local - before)
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/**
 * Writes an instant as a 1fichier date (Paris wall-clock time, whole seconds, truncated).
 * Throws a RangeError for an invalid Date, which can only come from a bug upstream.
 */
export function formatApiDate(date: Date): string {
  const ms = date.getTime()
  if (Number.isNaN(ms)) throw new RangeError('formatApiDate: invalid Date')
  const whole = Math.floor(ms / 1000) * 1000
  let w: WallClock
  if (whole >= EU_RULE_FROM && whole < EU_RULE_UNTIL) {
    const d = new Date(whole + parisOffset(whole))
    w = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() }
  } else {
    w = parisWallClock(whole)
  }
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`
}
