/**
 * The retry policy, kept pure (no timers, no I/O) so it is tested on its own.
 *
 * - 'flood': 1fichier's flood protection answered; wait a long cool-down, then retry.
 * - 'retry': a transient failure (5xx, network, timeout); back off with jitter, then retry.
 * - 'fail':  a final answer (bad key, no such user, premium required, not found, any other KO).
 */
import { ApiErrorCodes, FichierApiError } from './errors.js'

export type RetryDecision = 'retry' | 'flood' | 'fail'

export function classify(error: unknown): RetryDecision {
  if (!(error instanceof FichierApiError)) return 'fail'
  switch (error.code) {
    case ApiErrorCodes.flood:
      return 'flood'
    case ApiErrorCodes.network:
    case ApiErrorCodes.timeout:
      return 'retry'
    case ApiErrorCodes.http:
      return error.httpStatus !== undefined && error.httpStatus >= 500 ? 'retry' : 'fail'
    case ApiErrorCodes.badResponse:
      // A truncated or HTML answer from an overloaded front end: worth another try.
      return 'retry'
    default:
      return 'fail'
  }
}

export interface BackoffOptions {
  baseMs: number
  maxMs: number
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}

/** Flood cool-down: the base (>= 30 s in production), doubling for each flood in a row. */
export function floodCooldown(consecutiveFloods: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, consecutiveFloods - 1))
}
