/**
 * One structured logger for the whole daemon (pino, JSON lines on stderr by default).
 *
 * Secrets are removed at the logger, not at call sites: `registerSecret()` adds a string
 * (the API key) that is replaced by `[REDACTED]` in every line just before it is written,
 * whatever path it took into the record (a message, an error, a header object). Known header
 * paths are redacted by pino as well, so they never even get serialized.
 */
import { openSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { DestinationStream, Logger as PinoLogger } from 'pino'

const secrets = new Set<string>()

/** Remember a secret so that no log line, error text or status output can contain it. */
export function registerSecret(secret: string | undefined): void {
  // Short strings would redact ordinary words; real keys are 32 characters.
  if (secret && secret.length >= 8) secrets.add(secret)
}

/** Replace every registered secret in `text`. */
export function scrubSecrets(text: string): string {
  let out = text
  for (const secret of secrets) out = out.split(secret).join('[REDACTED]')
  return out
}

export interface LoggerOptions {
  level?: string
  /** Append to this file (created 0600) instead of stderr. */
  file?: string
  destination?: DestinationStream
}

/** What fichfs logs through (pino's call forms: `log.warn({ path }, 'message')` or `log.warn('message')`). */
export interface Logger {
  level: string
  fatal: LogFn
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  trace: LogFn
}
type LogFn = (objOrMsg: unknown, msg?: string, ...args: unknown[]) => void

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/**
 * The logger. pino (and what it loads, about 7 MiB resident) is only loaded once a line at an
 * enabled level is logged: a daemon at the default level (warn) that has nothing to say never
 * loads it (docs/SEMANTICS.md, Memory).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.FICHFS_LOG_LEVEL ?? 'info'
  const threshold = LEVELS[level] ?? LEVELS.info as number
  let real: PinoLogger | undefined
  // The log file is opened now, so that a path that cannot be written fails at start.
  const fd = options.destination ? undefined : options.file ? openSync(options.file, 'a', 0o600) : 2
  const load = (): PinoLogger => (real ??= makePino(level, options.destination, fd ?? 2))
  if (options.destination) load()
  const method = (name: Exclude<keyof Logger, 'level'>): LogFn => (objOrMsg, msg, ...args) => {
    if ((LEVELS[name] as number) < threshold) return
    ;(load()[name] as (...values: unknown[]) => void)(objOrMsg, msg, ...args)
  }
  return {
    level,
    fatal: method('fatal'), error: method('error'), warn: method('warn'),
    info: method('info'), debug: method('debug'), trace: method('trace'),
  }
}

function makePino(level: string, destination: DestinationStream | undefined, fd: number): PinoLogger {
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino')
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'authorization', 'Authorization', 'apiKey', 'key',
          'headers.authorization', 'headers.Authorization',
          '*.headers.authorization', '*.headers.Authorization',
        ],
        censor: '[REDACTED]',
      },
      hooks: {
        streamWrite: (line: string) => scrubSecrets(line),
      },
    },
    destination ?? pino.destination({ fd, sync: true }),
  )
}
