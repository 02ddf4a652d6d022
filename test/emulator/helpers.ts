import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js'

export { whirlpool }

export interface RawResponse {
  status: number
  headers: Headers
  text: string
  /** Parsed body when it is JSON, else undefined. */
  json: any
}

export async function makeTempDir(prefix = 'fichfs-emu-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export interface TestEmulator {
  emu: Emulator
  dataDir: string
  /** Close the emulator and remove its data dir. */
  dispose(): Promise<void>
}

/** A fresh emulator in its own temp dir; rate limits off unless the test asks for them. */
export async function startTestEmulator(options: Partial<EmulatorOptions> = {}): Promise<TestEmulator> {
  const dataDir = options.dataDir ?? (await makeTempDir())
  const emu = await startEmulator({ rateLimits: false, faultSeed: 42, ...options, dataDir })
  return {
    emu,
    dataDir,
    dispose: async () => {
      await emu.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

async function toRaw(response: Response): Promise<RawResponse> {
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

export interface ApiCallOptions {
  method?: string
  /** Replaces the default `Bearer <key>`; null sends no Authorization header. */
  authorization?: string | null
  /** Replaces the default application/json; null sends none. */
  contentType?: string | null
  /** Sent as is instead of JSON.stringify(body). */
  rawBody?: string
}

/** One raw API call: plain fetch, the JSON exactly as the server wrote it. */
export async function api(emu: Emulator, path: string, body?: unknown, options: ApiCallOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {}
  const authorization = options.authorization === undefined ? `Bearer ${emu.apiKey}` : options.authorization
  if (authorization !== null) headers.Authorization = authorization
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType
  if (contentType !== null) headers['Content-Type'] = contentType
  const method = options.method ?? 'POST'
  const payload = options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body))
  return toRaw(await fetch(`${emu.apiBase}/${path}`, { method, headers, body: method === 'GET' ? undefined : payload }))
}

export interface UploadPart {
  filename: string
  data: Buffer | string
  /** Defaults to `file[]`. */
  field?: string
}

/** A multipart body built in memory, so Content-Length is exact (test files are small). */
export function multipartBody(fields: Record<string, string>, parts: UploadPart[]): { body: Buffer; contentType: string } {
  const boundary = `----fichfsTest${Math.random().toString(16).slice(2)}`
  const chunks: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  }
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.field ?? 'file[]'}"; filename="${part.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`))
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

export async function uploadServer(emu: Emulator): Promise<{ url: string; id: string }> {
  const answer = await api(emu, 'upload/get_upload_server.cgi', undefined, { method: 'GET' })
  if (answer.status !== 200) throw new Error(`get_upload_server: HTTP ${answer.status}`)
  return answer.json
}

/** POST upload.cgi (no redirect following): the raw 302 or error. */
export async function postUpload(emu: Emulator, id: string, fields: Record<string, string>, parts: UploadPart[], authorization: string | null = `Bearer ${emu.apiKey}`): Promise<RawResponse & { location: string | null }> {
  const { body, contentType } = multipartBody(fields, parts)
  const headers: Record<string, string> = { 'Content-Type': contentType }
  if (authorization !== null) headers.Authorization = authorization
  const response = await fetch(`http://${emu.uploadHost}/upload.cgi?id=${id}`, { method: 'POST', headers, body, redirect: 'manual' })
  return { ...(await toRaw(response)), location: response.headers.get('location') }
}

export async function endPl(emu: Emulator, xid: string, json = true): Promise<RawResponse> {
  return toRaw(await fetch(`http://${emu.uploadHost}/end.pl?xid=${xid}`, { headers: json ? { JSON: '1' } : {} }))
}

export interface UploadedLink {
  download: string
  filename: string
  remove: string
  size: string
  whirlpool: string
}

/** The whole upload flow; returns end.pl's links. */
export async function uploadFiles(emu: Emulator, parts: UploadPart[], folderId?: number): Promise<UploadedLink[]> {
  const server = await uploadServer(emu)
  const fields: Record<string, string> = folderId === undefined ? {} : { did: String(folderId) }
  const posted = await postUpload(emu, server.id, fields, parts)
  if (posted.status !== 302) throw new Error(`upload.cgi: HTTP ${posted.status}`)
  const result = await endPl(emu, server.id)
  return result.json.links
}

export async function uploadOne(emu: Emulator, filename: string, data: Buffer | string, folderId?: number): Promise<UploadedLink> {
  const [link] = await uploadFiles(emu, [{ filename, data }], folderId)
  if (!link) throw new Error('no link')
  return link
}

export async function mkdir(emu: Emulator, name: string, parent = 0): Promise<number> {
  const answer = await api(emu, 'folder/mkdir.cgi', { name, folder_id: parent })
  if (answer.json?.status !== 'OK') throw new Error(`mkdir ${name}: ${answer.text}`)
  return answer.json.folder_id
}

export async function getToken(emu: Emulator, url: string, extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await api(emu, 'download/get_token.cgi', { url, ...extra })
  if (answer.json?.status !== 'OK') throw new Error(`get_token: ${answer.text}`)
  return answer.json.url
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Now in Paris as `YYYY-MM-DD HH:MM:SS`, computed independently of the emulator. */
export function parisNow(): string {
  return new Date().toLocaleString('sv-SE', { timeZone: 'Europe/Paris' })
}

/** Seconds between two API dates read as naive local times. */
export function secondsApart(a: string, b: string): number {
  return Math.abs(Date.parse(a.replace(' ', 'T') + 'Z') - Date.parse(b.replace(' ', 'T') + 'Z')) / 1000
}

export const API_DATE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/
export const KO_MESSAGE = / #\d+$/
export const FILE_URL = /^https:\/\/1fichier\.com\/\?[a-z0-9]{10}$/
