/**
 * Download links in the metadata database (table download_links), so that a link still valid
 * is reused after a remount instead of costing another download/get_token. Rows older than an
 * hour (links live 5 minutes) are dropped when the store is opened.
 *
 * A link lets anyone download that one file while it lives, without the API key: it stays in
 * the account's cache dir (mode 0700), like the rest of what fichfs knows of the account.
 */
import type Database from 'better-sqlite3'
import type { LinkStore, StoredLink } from '../client/link-store.js'

const KEEP_MS = 60 * 60_000

export class LinkCache implements LinkStore {
  private readonly select
  private readonly upsert
  private readonly remove

  constructor(db: Database.Database, now = Date.now()) {
    db.prepare('DELETE FROM download_links WHERE obtained_at < ?').run(now - KEEP_MS)
    this.select = db.prepare('SELECT link, obtained_at AS obtainedAt FROM download_links WHERE url = ?')
    this.upsert = db.prepare('INSERT OR REPLACE INTO download_links (url, link, obtained_at) VALUES (?, ?, ?)')
    this.remove = db.prepare('DELETE FROM download_links WHERE url = ?')
  }

  get(fileUrl: string): StoredLink | undefined {
    return this.select.get(fileUrl) as StoredLink | undefined
  }

  set(fileUrl: string, stored: StoredLink): void {
    this.upsert.run(fileUrl, stored.link, stored.obtainedAt)
  }

  delete(fileUrl: string): void {
    this.remove.run(fileUrl)
  }
}
