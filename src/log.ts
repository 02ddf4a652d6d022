/**
 * One structured logger for the whole daemon (pino, JSON lines on stderr by default).
 *
 * Secrets are removed at the logger, not at call sites: `registerSecret()` adds a string
 * (the API key) that is replaced by `[REDACTED]` in every line just before it is written,
 * whatever path it took into the record (a message, an error, a header object). Known header
 * paths are redacted by pino as well, so they never even get serialized.
 */
import { openSync } from 'node:fs'
import { pino, type Logger, type DestinationStream } from 'pino'

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

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.FICHFS_LOG_LEVEL ?? 'info',
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
    options.destination ?? pino.destination(options.file ? { fd: openSync(options.file, 'a', 0o600), sync: true } : { fd: 2, sync: true }),
  )
}

export type { Logger }
