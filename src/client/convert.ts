/**
 * Pure conversions from the API's JSON to the client's types, tolerant where the doc is unsure
 * (numbers sent as strings, missing fields, a body that is not JSON).
 */
import type { HttpResponse } from './http.js'
import { ApiErrorCodes, FichierApiError } from './errors.js'
import { fileIdFromUrl } from './ids.js'
import { parseApiDate } from './dates.js'
import { decodeName } from './names.js'
import type { RemoteFile, RemoteFolder } from './types.js'
import type { FileItem, SubFolder } from './wire.js'

export type Json = Record<string, unknown>

export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return undefined
}

export function toFlag(value: unknown): boolean {
  return toNumber(value) === 1 || value === true
}

export function toRemoteFile(item: FileItem): RemoteFile {
  const url = String(item.url ?? '')
  return {
    url,
    id: fileIdFromUrl(url),
    name: decodeName(String(item.filename ?? '')),
    size: toNumber(item.size) ?? 0,
    uploadedAt: parseApiDate(String(item.date ?? '')),
    checksum: item.checksum ? String(item.checksum).toLowerCase() : undefined,
    contentType: item['content-type'] ? String(item['content-type']) : undefined,
    passwordProtected: toFlag(item.pass),
    cdn: toFlag(item.cdn),
    restricted: toFlag(item.acl),
  }
}

export function toRemoteFolder(folder: SubFolder): RemoteFolder {
  return {
    id: toNumber(folder.id) ?? -1,
    name: decodeName(String(folder.name ?? '')),
    createdAt: parseApiDate(String(folder.create_date ?? '')),
    passwordProtected: toFlag(folder.pass),
  }
}

export function parseJson(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined
  } catch {
    return undefined
  }
}

export function badResponse(endpoint: string, what: string): FichierApiError {
  return new FichierApiError(ApiErrorCodes.badResponse, `${endpoint}: unexpected answer (${what})`, { endpoint })
}

/** Read a short, printable piece of an error body (for messages), discarding the rest. */
export async function readSnippet(response: HttpResponse): Promise<string> {
  try {
    const text = await response.text()
    const json = parseJson(text)
    if (json && typeof json.message === 'string') return json.message
    return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200)
  } catch {
    return ''
  }
}
