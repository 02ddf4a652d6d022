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

/** Transport failures that happen before a request can reach the service. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EHOSTDOWN', 'UND_ERR_CONNECT_TIMEOUT'])

/**
 * The request never reached the service (it could not even connect): nothing was done there,
 * so no gate was used and an outage is under way rather than an overload.
 */
export function neverReached(error: unknown): boolean {
  if (!(error instanceof FichierApiError)) return false
  if (error.code !== ApiErrorCodes.network && error.code !== ApiErrorCodes.timeout) return false
  const cause = error.cause as { code?: unknown; cause?: { code?: unknown } } | undefined
  return UNREACHABLE.has(String(cause?.code ?? '')) || UNREACHABLE.has(String(cause?.cause?.code ?? ''))
}

/** A gateway's answers: the upload node behind it may have had the request all the same. */
const GATEWAY_STATUSES = new Set([502, 504])

/**
 * A failed upload that may be on 1fichier all the same: the node had the whole body (the
 * connection broke or timed out after its last bytes, a gateway answered 502 or 504, the
 * answer or end.pl's report never came, or the report could not be checked). Sending it again
 * blindly could make a second copy. A failure while the body was still being sent cannot leave
 * a copy behind: 1fichier stores the files once it has the whole request. An error that does
 * not say where it happened (`uploadBodyEnded` unset) is taken as one that may have arrived.
 */
export function uploadMayHaveArrived(error: unknown): boolean {
  if (!(error instanceof FichierApiError) || neverReached(error) || error.uploadBodyEnded === false) return false
  if (error.code === ApiErrorCodes.http) return error.httpStatus !== undefined && GATEWAY_STATUSES.has(error.httpStatus)
  return ([ApiErrorCodes.network, ApiErrorCodes.timeout, ApiErrorCodes.badResponse, ApiErrorCodes.uploadFailed] as string[]).includes(error.code)
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
