import type { EndPlLink } from '../client/wire.js'
import type { Db } from './db.js'
import { newDownloadToken, newUploadId } from './ids.js'

/** Lifetimes before time scaling (shared/1fichier-api.md §5, §6). */
export const LIFETIMES = {
  /** An id from get_upload_server must be used within the 4 h an upload may take. */
  uploadIdMs: 4 * 3600_000,
  /** end.pl keeps the upload status 2 h. */
  uploadResultMs: 2 * 3600_000,
  /** Download tokens are valid 5 minutes. */
  tokenMs: 5 * 60_000,
} as const

export interface DownloadGrant {
  fileId: string
  inline: boolean
}

export type ClaimResult = 'claimed' | 'unknown'

/**
 * Short-lived state of the upload node and the download host, in SQLite like the rest so a
 * restarted emulator honours what it handed out. `scale` divides every lifetime.
 */
export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly scale: (ms: number) => number,
  ) {
    // An upload interrupted by a restart never finished: its id may be used again.
    db.prepare("UPDATE upload_ids SET state = 'fresh' WHERE state = 'busy'").run()
  }

  // ---- uploads

  createUploadId(): string {
    this.purge()
    let id = newUploadId()
    while (this.db.prepare('SELECT 1 FROM upload_ids WHERE id = ?').get(id)) id = newUploadId()
    this.db.prepare("INSERT INTO upload_ids (id, created_at, state) VALUES (?, ?, 'fresh')").run(id, Date.now())
    return id
  }

  /** True if `id` was handed out, is not expired and no upload has used it yet. */
  isUploadIdFresh(id: string): boolean {
    const row = this.db.prepare('SELECT created_at, state FROM upload_ids WHERE id = ?').get(id) as { created_at: number; state: string } | undefined
    return !!row && row.state === 'fresh' && Date.now() - row.created_at < this.scale(LIFETIMES.uploadIdMs)
  }

  /** Reserve an id for one upload request (a second concurrent request with it is refused). */
  claimUploadId(id: string): ClaimResult {
    if (!this.isUploadIdFresh(id)) return 'unknown'
    this.db.prepare("UPDATE upload_ids SET state = 'busy' WHERE id = ?").run(id)
    return 'claimed'
  }

  /** A failed upload stored nothing: the id may be tried again. */
  releaseUploadId(id: string): void {
    this.db.prepare("UPDATE upload_ids SET state = 'fresh' WHERE id = ? AND state = 'busy'").run(id)
  }

  finishUpload(id: string, links: EndPlLink[]): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE upload_ids SET state = 'done' WHERE id = ?").run(id)
      this.db.prepare('INSERT OR REPLACE INTO upload_results (xid, finished_at, links) VALUES (?, ?, ?)').run(id, Date.now(), JSON.stringify(links))
    })()
  }

  uploadResult(xid: string): EndPlLink[] | undefined {
    const row = this.db.prepare('SELECT finished_at, links FROM upload_results WHERE xid = ?').get(xid) as { finished_at: number; links: string } | undefined
    if (!row || Date.now() - row.finished_at >= this.scale(LIFETIMES.uploadResultMs)) return undefined
    return JSON.parse(row.links) as EndPlLink[]
  }

  // ---- downloads

  createToken(fileId: string, single: boolean, inline: boolean): string {
    this.purge()
    let token = newDownloadToken()
    while (this.db.prepare('SELECT 1 FROM tokens WHERE token = ?').get(token)) token = newDownloadToken()
    this.db.prepare('INSERT INTO tokens (token, file_id, expires_at, single, inline) VALUES (?, ?, ?, ?, ?)')
      .run(token, fileId, Date.now() + this.scale(LIFETIMES.tokenMs), single ? 1 : 0, inline ? 1 : 0)
    return token
  }

  /** Spend one request of a token; undefined when unknown, expired or (single) already used. */
  useToken(token: string): DownloadGrant | undefined {
    const row = this.db.prepare('SELECT file_id, expires_at, single, uses, inline FROM tokens WHERE token = ?').get(token) as
      | { file_id: string; expires_at: number; single: number; uses: number; inline: number }
      | undefined
    if (!row || row.expires_at <= Date.now()) return undefined
    if (row.single && row.uses > 0) return undefined
    this.db.prepare('UPDATE tokens SET uses = uses + 1 WHERE token = ?').run(token)
    return { fileId: row.file_id, inline: row.inline === 1 }
  }

  private purge(): void {
    const now = Date.now()
    this.db.prepare('DELETE FROM tokens WHERE expires_at <= ?').run(now)
    this.db.prepare('DELETE FROM upload_results WHERE finished_at <= ?').run(now - this.scale(LIFETIMES.uploadResultMs))
    this.db.prepare("DELETE FROM upload_ids WHERE state != 'busy' AND created_at <= ?").run(now - this.scale(LIFETIMES.uploadIdMs + LIFETIMES.uploadResultMs))
  }
}
