import type { ServerResponse } from 'node:http'
import type { EmulatorContext } from './context.js'
import { sleep } from './http.js'

const REASONS: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable' }

/** faults.latencyMs, before any work is done for the request. */
export async function injectLatency(ctx: EmulatorContext): Promise<void> {
  const { latencyMs } = ctx.faults.current
  if (latencyMs <= 0) return
  ctx.stats.data.faultsInjected.latency += 1
  await sleep(latencyMs)
}

/** The page nginx shows when the backend behind it fails. */
export function nginxErrorPage(status: number): string {
  const title = `${status} ${REASONS[status] ?? 'Error'}`
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
}

/**
 * An injected failure: one of 500/502/503 (or the given status), with an nginx HTML page or an
 * empty body, the two things clients meet in the wild instead of JSON.
 */
export function sendInjectedError(ctx: EmulatorContext, res: ServerResponse, status?: number): void {
  ctx.stats.data.faultsInjected.error += 1
  const code = status ?? ctx.faults.pick([500, 502, 503])
  const body = ctx.faults.draw() < 0.5 ? nginxErrorPage(code) : ''
  const headers: Record<string, string | number> = { 'Content-Length': Buffer.byteLength(body) }
  if (body) headers['Content-Type'] = 'text/html'
  res.writeHead(code, headers)
  res.end(body)
}
