import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { ADMIN_PREFIX, handleAdmin, type AdminActions } from './admin.js'
import { handleApi } from './api/router.js'
import type { EmulatorContext } from './context.js'
import { handleDownload } from './download.js'
import { handleEndPl } from './end-pl.js'
import { sendHtml } from './http.js'
import { handleUpload } from './upload.js'
import { END_PATH, UPLOAD_PATH } from '../client/wire.js'

const API_PREFIX = '/v1/'
const TOKEN_PATH = /^\/([a-z]\d+)$/

/** One port plays api.1fichier.com, the upload node and the download host. */
export function createEmulatorServer(ctx: EmulatorContext, actions: AdminActions): Server {
  const server = createServer((req, res) => {
    dispatch(ctx, actions, req, res).catch((error: unknown) => {
      process.stderr.write(`emulator: ${req.method} ${req.url} failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      if (!res.headersSent) sendHtml(res, 500, 'Internal Server Error')
      else res.destroy()
    })
  })
  // Throttled multi-gigabyte uploads may legitimately take longer than Node's 5 minute default.
  server.requestTimeout = 0
  return server
}

async function dispatch(ctx: EmulatorContext, actions: AdminActions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Server', 'nginx')
  const url = new URL(req.url ?? '/', 'http://emulator.invalid')
  const path = url.pathname
  if (path.startsWith(API_PREFIX)) return handleApi(ctx, req, res, path.slice(API_PREFIX.length))
  if (path === UPLOAD_PATH) return handleUpload(ctx, req, res, url)
  if (path === END_PATH) return handleEndPl(ctx, req, res, url)
  if (path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) return handleAdmin(ctx, actions, req, res, path)
  const token = TOKEN_PATH.exec(path)?.[1]
  if (token) return handleDownload(ctx, req, res, token)
  sendHtml(res, 404, 'Not Found')
}
