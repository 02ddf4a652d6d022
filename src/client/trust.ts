/**
 * Where the API key may travel. It goes to the API host and to the upload node that the API
 * names, and only over https under 1fichier.com, or to the host of an explicitly configured
 * endpoint (the emulator). Download links never get the key, but a link outside the same
 * domains is refused too: a tampered answer must not point fichfs at arbitrary hosts.
 */
import { ApiErrorCodes, FichierApiError } from './errors.js'

export const DEFAULT_ENDPOINT = 'https://api.1fichier.com/v1'

export interface TrustPolicy {
  /** The API base URL in use. */
  endpoint: URL
  /** True when the user configured the endpoint: its host (with port) is then trusted too. */
  explicitEndpoint: boolean
}

export function trustPolicy(endpoint: string | undefined): TrustPolicy {
  const url = new URL(endpoint ?? DEFAULT_ENDPOINT)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new FichierApiError(ApiErrorCodes.unsafeHost, `unsupported endpoint scheme ${url.protocol}`, { endpoint: 'config', errno: 'EINVAL' })
  }
  return { endpoint: url, explicitEndpoint: endpoint !== undefined && endpoint !== DEFAULT_ENDPOINT }
}

function isOfficialHost(hostname: string): boolean {
  const host = hostname.toLowerCase()
  return host === '1fichier.com' || host.endsWith('.1fichier.com')
}

function trusted(url: URL, policy: TrustPolicy): boolean {
  if (url.username || url.password) return false
  if (url.protocol === 'https:' && isOfficialHost(url.hostname) && (url.port === '' || url.port === '443')) return true
  return policy.explicitEndpoint && url.protocol === policy.endpoint.protocol && url.host === policy.endpoint.host
}

/** The upload node's origin: get_upload_server gives a bare host; the scheme is the endpoint's. */
export function uploadOrigin(host: string, policy: TrustPolicy): URL {
  const bare = host.trim()
  let url: URL | undefined
  if (/^[a-z0-9.-]+(:\d+)?$/i.test(bare)) url = new URL(`${policy.endpoint.protocol}//${bare}`)
  if (!url || !trusted(url, policy)) {
    throw new FichierApiError(ApiErrorCodes.unsafeHost, `refusing to upload to untrusted host "${bare.slice(0, 100)}"`, {
      endpoint: 'upload/get_upload_server.cgi', errno: 'EIO',
      hint: 'The API named an upload host outside 1fichier.com; the API key was not sent to it.',
    })
  }
  return url
}

/** Check a download link from get_token before fetching from it. */
export function checkDownloadUrl(link: string, policy: TrustPolicy): URL {
  let url: URL | undefined
  try {
    url = new URL(link)
  } catch {
    url = undefined
  }
  if (!url || !trusted(url, policy)) {
    throw new FichierApiError(ApiErrorCodes.unsafeHost, `refusing download link on an untrusted host (${url?.host ?? 'unparsable'})`, {
      endpoint: 'download/get_token.cgi', errno: 'EIO',
    })
  }
  return url
}
