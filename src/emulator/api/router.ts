import type { IncomingMessage, ServerResponse } from 'node:http'
import { API_PATHS } from '../../client/wire.js'
import type { KoResponse } from '../../client/wire.js'
import type { EmulatorContext } from '../context.js'
import { ApiError, ko } from '../errors.js'
import { injectLatency, sendInjectedError } from '../fault-effects.js'
import { BodyTooLargeError, clientIp, readSmallBody, sendJson } from '../http.js'
import type { RateCall } from '../rate-limiter.js'
import { getToken, getUploadServer, userInfo } from './account.js'
import { fileChattr, fileCp, fileInfo, fileLs, fileMv, fileRename, fileRm } from './files.js'
import { folderLs, folderMkdir, folderMv, folderRm } from './folders.js'
import { isObject, Params, type JsonObject } from './params.js'
import { remoteInfo, remoteLs, remoteRequest } from './remote.js'

type Handler = (ctx: EmulatorContext, params: Params) => object

interface Route {
  handler: Handler
  /** user/info, get_upload_server and remote/ls may come without a body. */
  emptyBodyAllowed?: boolean
  /** get_upload_server is also called with GET (rclone, the C# SDK). */
  getAllowed?: boolean
}

const ROUTES: Record<string, Route> = {
  [API_PATHS.userInfo]: { handler: userInfo, emptyBodyAllowed: true },
  [API_PATHS.folderLs]: { handler: folderLs },
  [API_PATHS.folderMkdir]: { handler: folderMkdir },
  [API_PATHS.folderRm]: { handler: folderRm },
  [API_PATHS.folderMv]: { handler: folderMv },
  [API_PATHS.fileLs]: { handler: fileLs },
  [API_PATHS.fileInfo]: { handler: fileInfo },
  [API_PATHS.fileMv]: { handler: fileMv },
  [API_PATHS.fileRename]: { handler: fileRename },
  [API_PATHS.fileCp]: { handler: fileCp },
  [API_PATHS.fileRm]: { handler: fileRm },
  [API_PATHS.fileChattr]: { handler: fileChattr },
  [API_PATHS.getToken]: { handler: getToken },
  [API_PATHS.getUploadServer]: { handler: getUploadServer, emptyBodyAllowed: true, getAllowed: true },
  [API_PATHS.remoteRequest]: { handler: remoteRequest },
  [API_PATHS.remoteLs]: { handler: remoteLs, emptyBodyAllowed: true },
  [API_PATHS.remoteInfo]: { handler: remoteInfo },
}

const MAX_JSON_BYTES = 1024 * 1024

type Parsed = { ok: true; route: Route; body: JsonObject } | { ok: false; error: ApiError; body?: JsonObject }

/** One /v1 request, from latency to answer. `apiPath` is the part after `/v1/`. */
export async function handleApi(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, apiPath: string): Promise<void> {
  ctx.stats.countApiCall(apiPath)
  await injectLatency(ctx)
  let raw: Buffer | undefined
  try {
    raw = await readSmallBody(req, MAX_JSON_BYTES)
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) return // the client went away
  }
  if (ctx.faults.strikes('errorRate')) return sendInjectedError(ctx, res)

  const parsed = parseRequest(ctx, req, apiPath, raw)
  const pretty = parsed.body?.pretty === 1
  if (refusedAsFlood(ctx, clientIp(req), apiPath, parsed)) return sendKo(res, ko.flood(), pretty)
  if (!parsed.ok) {
    if (parsed.error.httpStatus === 401) ctx.stats.data.authFailures += 1
    return sendKo(res, parsed.error, pretty)
  }
  try {
    sendJson(res, 200, parsed.route.handler(ctx, new Params(parsed.body)), pretty)
  } catch (error) {
    if (error instanceof ApiError) return sendKo(res, error, pretty)
    process.stderr.write(`emulator: ${apiPath} failed: ${error instanceof Error ? error.stack : String(error)}\n`)
    sendKo(res, ko.internal(), pretty)
  }
}

function sendKo(res: ServerResponse, error: ApiError, pretty: boolean): void {
  const body: KoResponse = { status: 'KO', message: error.message }
  sendJson(res, error.httpStatus, body, pretty)
}

/** Checks in the order: known call, key, method, Content-Type, JSON body. */
function parseRequest(ctx: EmulatorContext, req: IncomingMessage, apiPath: string, raw: Buffer | undefined): Parsed {
  const route = ROUTES[apiPath]
  if (!route) return { ok: false, error: ko.unknownCall() }
  if (req.headers.authorization !== `Bearer ${ctx.config.apiKey}`) return { ok: false, error: ko.notAuthenticated() }
  if (req.method !== 'POST' && !(req.method === 'GET' && route.getAllowed)) return { ok: false, error: ko.methodNotAllowed() }
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') return { ok: false, error: ko.badContentType() }
  if (raw === undefined) return { ok: false, error: ko.bodyTooLarge() }
  const text = raw.toString('utf8')
  if (text.trim() === '') return route.emptyBodyAllowed ? { ok: true, route, body: {} } : { ok: false, error: ko.emptyBody() }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return { ok: false, error: ko.invalidJson() }
  }
  if (!isObject(body)) return { ok: false, error: ko.invalidJson() }
  return { ok: true, route, body }
}

/** Which flood rule a call falls under; invalid requests only count toward calls per second. */
function rateCallFor(apiPath: string, parsed: Parsed): RateCall {
  if (!parsed.ok) return { kind: 'other' }
  const folderId = parsed.body.folder_id
  switch (apiPath) {
    case API_PATHS.userInfo:
      return { kind: 'user-info' }
    case API_PATHS.folderLs:
      return typeof folderId === 'number' ? { kind: 'listing', folderId } : { kind: 'other' }
    case API_PATHS.fileLs:
      if (folderId === -1) return { kind: 'all-files' }
      return { kind: 'listing', folderId: typeof folderId === 'number' ? folderId : 0 }
    default:
      return { kind: 'other' }
  }
}

function refusedAsFlood(ctx: EmulatorContext, ip: string, apiPath: string, parsed: Parsed): boolean {
  if (ctx.faults.takeForcedFlood()) {
    ctx.limiter.lock(ip)
    ctx.stats.countFlood('forced', 'forced', apiPath)
    return true
  }
  const verdict = ctx.limiter.hit(ip, rateCallFor(apiPath, parsed))
  if (verdict.allowed) return false
  ctx.stats.countFlood(verdict.whileLocked ? 'whileLocked' : 'triggered', verdict.reason, apiPath)
  return true
}
