import Database from 'better-sqlite3'

export type Db = Database.Database

// Metadata only; bytes live in <dataDir>/blobs. Times are epoch milliseconds.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS folders_by_parent ON folders (parent_id, name);
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, size INTEGER NOT NULL, whirlpool TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY,
  folder_id INTEGER NOT NULL,
  filename TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  pass TEXT,
  description TEXT NOT NULL DEFAULT '',
  inline INTEGER NOT NULL DEFAULT 0,
  no_ssl INTEGER NOT NULL DEFAULT 0,
  cdn INTEGER NOT NULL DEFAULT 0,
  acl TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS files_by_folder ON files (folder_id, created_at);
CREATE INDEX IF NOT EXISTS files_by_blob ON files (blob_id);
CREATE TABLE IF NOT EXISTS upload_ids (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upload_results (xid TEXT PRIMARY KEY, finished_at INTEGER NOT NULL, links TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY,
  file_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  single INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  inline INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS remote_requests (
  id INTEGER PRIMARY KEY,
  requested_at INTEGER NOT NULL,
  executed_at INTEGER,
  folder_id INTEGER NOT NULL,
  urls TEXT NOT NULL,
  headers TEXT NOT NULL,
  result TEXT NOT NULL DEFAULT '[]'
);
`

export function openDatabase(path: string): Db {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(SCHEMA)
  return db
}

export function getMeta(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined
  return row?.value
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
}
