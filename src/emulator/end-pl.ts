import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EndPlLink, EndPlResponse } from '../client/wire.js'
import type { EmulatorContext } from './context.js'
import { injectLatency } from './fault-effects.js'
import { escapeHtml, sendHtml, sendJson } from './http.js'

/** GET /end.pl?xid=<id>: JSON with the `JSON: 1` header, else the HTML report a browser gets. */
export async function handleEndPl(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  ctx.stats.data.endPl += 1
  await injectLatency(ctx)
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendHtml(res, 405, 'Method Not Allowed')
  const links = ctx.sessions.uploadResult(url.searchParams.get('xid') ?? '')
  if (!links) return sendHtml(res, 404, 'Upload not found')
  const wantsJson = req.headers.json === '1'
  if (wantsJson && ctx.faults.strikes('endHtmlRate')) {
    ctx.stats.data.faultsInjected.endHtml += 1
    return sendHtml(res, 200, 'Upload finished', reportHtml(links))
  }
  if (wantsJson) {
    // No `status` here: the real end.pl has none.
    const body: EndPlResponse = { incoming: 0, links }
    return sendJson(res, 200, body)
  }
  sendHtml(res, 200, 'Upload finished', reportHtml(links))
}

function reportHtml(links: EndPlLink[]): string {
  const rows = links
    .map((link) => `<tr><td>${escapeHtml(link.filename)}</td><td>${link.size}</td><td><a href="${escapeHtml(link.download)}">${escapeHtml(link.download)}</a></td><td>${link.whirlpool}</td></tr>`)
    .join('\n')
  return `<h1>Upload finished</h1>\n<table>\n<tr><th>File name</th><th>Size</th><th>Download link</th><th>Whirlpool</th></tr>\n${rows}\n</table>`
}
