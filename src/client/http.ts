/**
 * The HTTP transport: the only module that imports undici.
 *
 * It sends exactly the headers it is given (the caller decides whether the key goes along),
 * never follows redirects (a redirect must not carry the key anywhere), and turns transport
 * failures into FichierApiError with the `network` or `timeout` code.
 */
import type { Readable } from 'node:stream'
import { createRequire } from 'node:module'
import type { Agent as AgentType, Dispatcher, errors as UndiciErrors } from 'undici'
import { ApiErrorCodes, FichierApiError } from './errors.js'

// The three parts of undici used here, required one by one: its index loads everything
// (fetch, WebSocket, mocks, cache stores), about 9 MiB of resident memory a daemon never uses.
// undici has no `exports` map, so these paths are reachable (test/client/http.test.ts and every
// e2e test go through them, against the installed version).
const load = createRequire(import.meta.url)
const Agent = load('undici/lib/dispatcher/agent') as typeof AgentType
const undiciErrors = load('undici/lib/core/errors') as typeof UndiciErrors
const requestApi = (load('undici/lib/api') as { request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData> }).request

export interface HttpRequest {
  method: 'GET' | 'POST' | 'HEAD'
  url: string
  headers?: Record<string, string>
  body?: string | Buffer | Readable
  signal?: AbortSignal
  /** What to call this request in errors (an endpoint name, "download", "upload"). */
  label: string
  /** Time allowed until the response headers arrive (an upload needs its whole body time). */
  headersTimeoutMs?: number
  /** Longest silence allowed while the body streams. */
  bodyTimeoutMs?: number
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | undefined>
  body: Readable
  text(): Promise<string>
  /** Read and discard the body so the connection can be reused. */
  dump(): Promise<void>
}

export interface HttpTransportOptions {
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  connectionsPerOrigin?: number
  userAgent?: string
}

export class HttpTransport {
  private readonly agent: AgentType
  private readonly options: Required<HttpTransportOptions>
  private readonly running = new Set<AbortController>()

  constructor(options: HttpTransportOptions = {}) {
    this.options = {
      connectTimeoutMs: 15_000,
      headersTimeoutMs: 60_000,
      bodyTimeoutMs: 60_000,
      connectionsPerOrigin: 16,
      userAgent: 'fichfs',
      ...options,
    }
    this.agent = new Agent({
      connect: { timeout: this.options.connectTimeoutMs },
      connections: this.options.connectionsPerOrigin,
      keepAliveTimeout: 30_000,
    })
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    // Each request has its own controller (following the caller's signal) so that close() can
    // cut what is still running: undici's destroy() after close() leaves such requests hanging.
    const controller = new AbortController()
    const follow = () => controller.abort(req.signal?.reason)
    if (req.signal?.aborted) follow()
    req.signal?.addEventListener('abort', follow, { once: true })
    this.running.add(controller)
    const done = () => {
      this.running.delete(controller)
      req.signal?.removeEventListener('abort', follow)
    }
    try {
      const url = new URL(req.url)
      const response = await requestApi.call(this.agent, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers: { 'user-agent': this.options.userAgent, ...req.headers },
        body: req.body,
        signal: controller.signal,
        headersTimeout: req.headersTimeoutMs ?? this.options.headersTimeoutMs,
        bodyTimeout: req.bodyTimeoutMs ?? this.options.bodyTimeoutMs,
      })
      const body = response.body
      body.once('close', done)
      return {
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body,
        text: () => body.text(),
        dump: () => body.dump().then(() => undefined, () => undefined),
      }
    } catch (error) {
      done()
      throw transportError(req.label, error)
    }
  }

  /**
   * Close the connections. Requests still running after `graceMs` are cut: a stopping mount
   * must not wait on one (an upload may stay silent for minutes before its answer).
   */
  async close(graceMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const graceOver = new Promise<'grace over'>((resolve) => {
      timer = setTimeout(() => resolve('grace over'), graceMs)
    })
    const closed = this.agent.close()
    const outcome = await Promise.race([closed.then(() => 'closed' as const), graceOver])
    clearTimeout(timer)
    if (outcome === 'closed') return
    for (const controller of this.running) controller.abort(new DOMException('the client is closing', 'AbortError'))
    await closed
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  return out
}

/** Name the failure without echoing request details (which could include headers). */
export function transportError(label: string, error: unknown): FichierApiError {
  if (error instanceof FichierApiError) return error
  const code = (error as { code?: string } | undefined)?.code ?? ''
  const isTimeout = error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError || code === 'ETIMEDOUT'
  const isAbort = (error as { name?: string } | undefined)?.name === 'AbortError'
  const reason = code || (error as { name?: string } | undefined)?.name || 'error'
  if (isAbort) return new FichierApiError(ApiErrorCodes.aborted, `${label}: aborted`, { endpoint: label, errno: 'EIO', cause: error })
  return new FichierApiError(
    isTimeout ? ApiErrorCodes.timeout : ApiErrorCodes.network,
    `${label}: ${isTimeout ? 'timed out' : 'connection failed'} (${reason})`,
    { endpoint: label, errno: isTimeout ? 'ETIMEDOUT' : 'EIO', cause: error },
  )
}
