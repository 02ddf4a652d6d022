import type { ApiDate } from '../client/wire.js'

// 1fichier prints French local time without a zone; hourCycle h23 avoids Intl's "24:00".
const parisClock = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Paris',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/** `YYYY-MM-DD HH:MM:SS` in Europe/Paris local time. */
export function formatApiDate(epochMs: number): ApiDate {
  const parts: Record<string, string> = {}
  for (const part of parisClock.formatToParts(new Date(epochMs))) parts[part.type] = part.value
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`
}

export const API_DATE_PATTERN = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/
