/**
 * The HTTP transport: the only module that imports undici.
 *
 * It sends exactly the headers it is given (the caller decides whether the key goes along),
 * never follows redirects (a redirect must not carry the key anywhere), and turns transport
 * failures into FichierApiError with the `network` or `timeout` code.
 */
import type { Readable } from 'node:stream'
import { Agent, errors as undiciErrors, request } from 'undici'
import { ApiErrorCodes, FichierApiError } from './errors.js'

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
  private readonly agent: Agent
  private readonly options: Required<HttpTransportOptions>

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
    try {
      const response = await request(req.url, {
        dispatcher: this.agent,
        method: req.method,
        headers: { 'user-agent': this.options.userAgent, ...req.headers },
        body: req.body,
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs ?? this.options.headersTimeoutMs,
        bodyTimeout: req.bodyTimeoutMs ?? this.options.bodyTimeoutMs,
      })
      const body = response.body
      return {
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body,
        text: () => body.text(),
        dump: () => body.dump().then(() => undefined, () => undefined),
      }
    } catch (error) {
      throw transportError(req.label, error)
    }
  }

  async close(): Promise<void> {
    await this.agent.close()
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
