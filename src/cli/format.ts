import { isFichfsError } from '../errors.js'
import { scrubSecrets } from '../log.js'

/** Results for scripts: indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** Human units for terminal output. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** An error as the user reads it: `fichfs: message [CODE]` and the hint, never a key. */
export function formatError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = isFichfsError(error) ? error.code : undefined
  const hint = isFichfsError(error) ? error.hint : undefined
  return scrubSecrets(`fichfs: ${message}${code ? ` [${code}]` : ''}${hint ? `\n  ${hint}` : ''}\n`)
}

/** A path as it must be typed in a shell (only when it needs quoting): shown in hints, never run. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}
