/**
 * Errors of the 1fichier client. Each carries a stable `code`, the HTTP status and the
 * 1fichier `#NNN` code when there is one, and the errno the filesystem should answer.
 * Messages are built from the endpoint name and the service's own message, never from request
 * headers, so the API key cannot end up in them.
 */
import { FichfsError, type ErrnoName } from '../errors.js'
import { API_CODES } from './wire.js'

export const ApiErrorCodes = {
  /** 401 #247: the key is wrong, revoked or missing. */
  auth: 'FICHFS_AUTH',
  /** #93: the account is locked or deleted. */
  noSuchUser: 'FICHFS_NO_SUCH_USER',
  /** #200/#236: the API needs a Premium/Access account. */
  premiumRequired: 'FICHFS_PREMIUM_REQUIRED',
  notFound: 'FICHFS_NOT_FOUND',
  /** #631: password or ACL. */
  notAllowed: 'FICHFS_NOT_ALLOWED',
  /** #312: a move/rename that would change nothing. */
  nothingRenamed: 'FICHFS_NOTHING_RENAMED',
  ownerLocked: 'FICHFS_OWNER_LOCKED',
  oneLocation: 'FICHFS_ONE_LOCATION',
  ipBlocked: 'FICHFS_IP_BLOCKED',
  /** Still flood-locked after every cool-down we were willing to wait. */
  flood: 'FICHFS_FLOOD',
  /** A KO answer without a more specific meaning. */
  ko: 'FICHFS_API_KO',
  /** A non-2xx answer without a 1fichier code (5xx after retries, odd 4xx). */
  http: 'FICHFS_HTTP',
  network: 'FICHFS_NETWORK',
  /** The caller gave up (AbortSignal); never retried. */
  aborted: 'FICHFS_ABORTED',
  timeout: 'FICHFS_TIMEOUT',
  badResponse: 'FICHFS_BAD_RESPONSE',
  /** An upload or download host outside the trusted domain. */
  unsafeHost: 'FICHFS_UNSAFE_HOST',
  uploadFailed: 'FICHFS_UPLOAD_FAILED',
  uploadCorrupt: 'FICHFS_UPLOAD_CORRUPT',
  /** The download link expired or was refused: get a new one. */
  downloadLinkRejected: 'FICHFS_DOWNLOAD_LINK',
  rangeNotSatisfiable: 'FICHFS_RANGE',
  invalidName: 'FICHFS_INVALID_NAME',
  tooLarge: 'FICHFS_TOO_LARGE',
} as const

export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes]

export interface ApiErrorDetails {
  endpoint: string
  httpStatus?: number
  /** The number after `#` in the service's message. */
  apiCode?: number
  errno?: ErrnoName
  hint?: string
  cause?: unknown
}

export class FichierApiError extends FichfsError {
  readonly endpoint: string
  readonly httpStatus?: number
  readonly apiCode?: number
  /**
   * Set on the failures of an upload: whether its whole body had been produced when it failed.
   * Only then may the node have stored the files although no answer or report came.
   */
  uploadBodyEnded?: boolean

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails) {
    super(code, message, { errno: details.errno ?? 'EIO', hint: details.hint, cause: details.cause })
    this.name = 'FichierApiError'
    this.endpoint = details.endpoint
    this.httpStatus = details.httpStatus
    this.apiCode = details.apiCode
  }
}

export const AUTH_HINT =
  'Check the key, or regenerate it in the 1fichier console (https://1fichier.com/console/params.pl; ' +
  'regenerating also revokes a leaked key), then run `fichfs login` again.'

/** 1fichier's messages end with ` #NNN`; rclone extracts it with the same pattern. */
export function extractApiCode(message: string | undefined): number | undefined {
  const match = message?.match(/#(\d{1,3})\b/)
  return match ? Number(match[1]) : undefined
}

/** Build the error for a KO/non-2xx answer, choosing code and errno where the meaning is known. */
export function errorFromAnswer(endpoint: string, httpStatus: number, message: string | undefined): FichierApiError {
  const apiCode = extractApiCode(message)
  const text = `${endpoint}: ${message?.trim() || `HTTP ${httpStatus}`}`
  const details = { endpoint, httpStatus, apiCode }
  if (httpStatus === 401 || apiCode === API_CODES.notAuthenticated) {
    return new FichierApiError(ApiErrorCodes.auth, `1fichier rejected the API key (${text})`, { ...details, errno: 'EACCES', hint: AUTH_HINT })
  }
  if (isFloodAnswer(httpStatus, apiCode, message)) {
    return new FichierApiError(ApiErrorCodes.flood, `1fichier flood protection (${text})`, {
      ...details, errno: 'EAGAIN', hint: 'fichfs waits and retries by itself; if this persists, another program may be using the same key or IP.',
    })
  }
  switch (apiCode) {
    case API_CODES.noSuchUser:
      return new FichierApiError(ApiErrorCodes.noSuchUser, `1fichier account unavailable (${text})`, {
        ...details, errno: 'EACCES', hint: 'The account may be locked (forced password reset) or deleted: log in on 1fichier.com.',
      })
    case API_CODES.mustBeCustomer200:
    case API_CODES.mustBeCustomer:
      return new FichierApiError(ApiErrorCodes.premiumRequired, `1fichier API needs a Premium or Access account (${text})`, { ...details, errno: 'EACCES' })
    case API_CODES.notFound:
      return new FichierApiError(ApiErrorCodes.notFound, `not found on 1fichier (${text})`, { ...details, errno: 'ENOENT' })
    case API_CODES.notAllowed:
      return new FichierApiError(ApiErrorCodes.notAllowed, `not allowed by 1fichier (${text})`, { ...details, errno: 'EACCES' })
    case API_CODES.nothingRenamed:
      return new FichierApiError(ApiErrorCodes.nothingRenamed, `nothing renamed (${text})`, { ...details, errno: 'EINVAL' })
    case API_CODES.ownerLocked:
      return new FichierApiError(ApiErrorCodes.ownerLocked, `the file owner's account is locked (${text})`, { ...details, errno: 'EACCES' })
    case API_CODES.oneLocation:
      return new FichierApiError(ApiErrorCodes.oneLocation, `the key is in use from another location (${text})`, { ...details, errno: 'EACCES' })
    case API_CODES.ipBlocked:
      return new FichierApiError(ApiErrorCodes.ipBlocked, `1fichier blocked this IP (${text})`, { ...details, errno: 'EACCES' })
  }
  if (httpStatus === 404) {
    return new FichierApiError(ApiErrorCodes.notFound, `not found on 1fichier (${text})`, { ...details, errno: 'ENOENT' })
  }
  if (httpStatus >= 200 && httpStatus < 300) return new FichierApiError(ApiErrorCodes.ko, `1fichier refused: ${text}`, details)
  return new FichierApiError(ApiErrorCodes.http, `1fichier answered HTTP ${httpStatus} (${text})`, details)
}

const FLOOD_CODES = new Set<number>([API_CODES.floodIp38, API_CODES.floodUser, API_CODES.flood, API_CODES.flood412])

/** Flood answers: the known codes, "Flood detected" text, or a 403/429 without any code. */
export function isFloodAnswer(httpStatus: number, apiCode: number | undefined, message: string | undefined): boolean {
  if (apiCode !== undefined && FLOOD_CODES.has(apiCode)) return true
  if (message && /flood detected/i.test(message)) return true
  return (httpStatus === 403 || httpStatus === 429) && apiCode === undefined
}
