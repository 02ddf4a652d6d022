import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { RemoteInfoResponse } from '../client/wire.js'
import { ROOT_FOLDER_ID } from '../client/wire.js'
import type { Account } from './account.js'
import type { Db } from './db.js'
import { fileUrl } from './ids.js'
import { nameProblem } from './names.js'
import { discardStaged, stageStream } from './staging.js'

export type RemoteResult = RemoteInfoResponse['result'][number]

export interface RemoteRequestRecord {
  id: number
  requestedAt: number
  executedAt: number | null
  folderId: number
  urls: string[]
  headers: Record<string, string>
  result: RemoteResult[]
}

interface RemoteRow { id: number; requested_at: number; executed_at: number | null; folder_id: number; urls: string; headers: string; result: string }

const toRecord = (row: RemoteRow): RemoteRequestRecord => ({
  id: row.id,
  requestedAt: row.requested_at,
  executedAt: row.executed_at,
  folderId: row.folder_id,
  urls: JSON.parse(row.urls) as string[],
  headers: JSON.parse(row.headers) as Record<string, string>,
  result: JSON.parse(row.result) as RemoteResult[],
})

export interface RemoteLimits {
  maxFileSize: number
  quotaBytes: number
}

/**
 * remote/request.cgi really fetches each URL (global fetch) into the account, one request at a
 * time in the background, and records the outcome for remote/info.cgi.
 */
export class RemoteUploads {
  private queue: Promise<void> = Promise.resolve()
  private readonly abort = new AbortController()

  constructor(
    private readonly db: Db,
    private readonly account: Account,
    private readonly tmpDir: string,
    private readonly limits: RemoteLimits,
  ) {}

  create(folderId: number, urls: string[], headers: Record<string, string>): RemoteRequestRecord {
    const info = this.db.prepare('INSERT INTO remote_requests (requested_at, folder_id, urls, headers) VALUES (?, ?, ?, ?)')
      .run(Date.now(), folderId, JSON.stringify(urls), JSON.stringify(headers))
    const id = Number(info.lastInsertRowid)
    this.enqueue(id)
    return this.get(id) as RemoteRequestRecord
  }

  get(id: number): RemoteRequestRecord | undefined {
    const row = this.db.prepare('SELECT * FROM remote_requests WHERE id = ?').get(id) as RemoteRow | undefined
    return row && toRecord(row)
  }

  list(): RemoteRequestRecord[] {
    return (this.db.prepare('SELECT * FROM remote_requests ORDER BY id').all() as RemoteRow[]).map(toRecord)
  }

  /** Requests left pending by a previous run are fetched again. */
  resumePending(): void {
    const rows = this.db.prepare('SELECT id FROM remote_requests WHERE executed_at IS NULL ORDER BY id').all() as Array<{ id: number }>
    for (const row of rows) this.enqueue(row.id)
  }

  async close(): Promise<void> {
    this.abort.abort()
    await this.queue
  }

  private enqueue(id: number): void {
    this.queue = this.queue.then(() => this.execute(id)).catch((error: unknown) => {
      if (!this.abort.signal.aborted) process.stderr.write(`emulator: remote upload ${id} failed: ${String(error)}\n`)
    })
  }

  private async execute(id: number): Promise<void> {
    const request = this.get(id)
    if (!request || this.abort.signal.aborted) return
    const result: RemoteResult[] = []
    for (const url of request.urls) result.push(await this.fetchOne(url, request))
    if (this.abort.signal.aborted) return
    this.db.prepare('UPDATE remote_requests SET executed_at = ?, result = ? WHERE id = ?').run(Date.now(), JSON.stringify(result), id)
  }

  private async fetchOne(url: string, request: RemoteRequestRecord): Promise<RemoteResult> {
    const failed = (message: string): RemoteResult => ({ status: 'KO', url, download_link: '', message })
    try {
      const response = await fetch(url, { headers: request.headers, signal: this.abort.signal })
      if (!response.ok || !response.body) {
        await response.body?.cancel()
        return failed(`HTTP ${response.status}`)
      }
      const filename = remoteFileName(response.headers.get('content-disposition'), url)
      const problem = filename === undefined ? 'no file name' : nameProblem(filename, 'file')
      if (problem || filename === undefined) {
        await response.body.cancel()
        return failed(`Invalid file name: ${problem}`)
      }
      const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>)
      const staged = await stageStream(body, this.tmpDir, this.limits.maxFileSize)
      if (staged.overflow) return failed('File too large')
      if (staged.size === 0 || this.account.usedBytes() + staged.size > this.limits.quotaBytes) {
        await discardStaged(staged)
        return failed(staged.size === 0 ? 'Empty file' : 'Not enough space')
      }
      // The destination may have been removed while the request waited.
      const folderId = this.account.folder(request.folderId) ? request.folderId : ROOT_FOLDER_ID
      const file = await this.account.addFile(folderId, filename, staged)
      return { status: 'OK', url, download_link: fileUrl(file.id), message: '' }
    } catch (error) {
      return failed(error instanceof Error ? error.message : String(error))
    }
  }
}

/** The name a remote download gets: Content-Disposition first, else the URL's last segment. */
export function remoteFileName(disposition: string | null, url: string): string | undefined {
  if (disposition) {
    const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)
    if (extended?.[1]) return safeDecode(extended[1].trim())
    const quoted = /filename\s*=\s*"([^"]*)"/.exec(disposition)
    if (quoted?.[1]) return quoted[1]
    const bare = /filename\s*=\s*([^;\s]+)/.exec(disposition)
    if (bare?.[1]) return bare[1]
  }
  const segment = new URL(url).pathname.split('/').pop()
  return segment ? safeDecode(segment) : undefined
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
