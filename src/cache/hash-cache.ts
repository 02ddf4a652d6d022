/**
 * Whirlpool checksums of local files, remembered by path, size and mtime (table local_hashes of
 * the metadata database), so that `fichfs verify` of a tree that did not change hashes nothing.
 * A file whose size or mtime (to the nanosecond) changed is hashed again; that is the test
 * rsync and rclone use to decide that a file changed.
 */
import type Database from 'better-sqlite3'

export interface LocalFileStamp {
  /** Absolute path of the local file. */
  path: string
  size: number
  /** stat's mtime in nanoseconds (bigint: a double loses the last digits). */
  mtimeNs: bigint
}

export class LocalHashCache {
  private readonly select
  private readonly upsert

  constructor(db: Database.Database) {
    this.select = db.prepare('SELECT whirlpool FROM local_hashes WHERE path = ? AND size = ? AND mtime_ns = ?')
    this.upsert = db.prepare(`INSERT INTO local_hashes (path, size, mtime_ns, whirlpool, hashed_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, whirlpool = excluded.whirlpool, hashed_at = excluded.hashed_at`)
  }

  /** The remembered Whirlpool of this file, if it has not changed since. */
  lookup(stamp: LocalFileStamp): string | undefined {
    const row = this.select.get(stamp.path, stamp.size, String(stamp.mtimeNs)) as { whirlpool: string } | undefined
    return row?.whirlpool
  }

  remember(stamp: LocalFileStamp, whirlpool: string): void {
    this.upsert.run(stamp.path, stamp.size, String(stamp.mtimeNs), whirlpool, Date.now())
  }
}
