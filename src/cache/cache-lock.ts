/**
 * One mount per account cache dir: the journal of pending uploads, the spool and the block cache
 * belong to one daemon at a time (two daemons would both resume, and both upload, one queue).
 *
 * The lock is an exclusive SQLite lock on a small database of its own, held for the daemon's
 * life: SQLite takes it with a POSIX fcntl lock, which the kernel drops when the process dies,
 * however it dies (kill -9, a crash), so a dead daemon never blocks the next mount and no pid
 * file can go stale or be reused. A second daemon finds the lock taken at once (no waiting).
 * CLI commands (`fichfs ls`, `upload`, ...) never take it: they share the metadata database
 * with a running mount, as before.
 *
 * Who holds it is written beside it (mount.owner.json), for the message only: the lock itself
 * cannot be read while held.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { FichfsError } from '../errors.js'

export interface LockOwner {
  pid: number
  mountpoint: string
  since: number
}

export interface CacheLock {
  readonly dir: string
  release(): void
}

export const LOCK_FILE = 'mount.lock'
const OWNER_FILE = 'mount.owner.json'

/** Take the cache dir's lock for a mount, or throw FICHFS_CACHE_IN_USE naming who holds it. */
export function lockCacheDir(dir: string, mountpoint: string): CacheLock {
  const db = new Database(join(dir, LOCK_FILE), { timeout: 0 })
  try {
    // A transaction left open holds the lock and writes nothing (no journal file either), so
    // a mount still starts on a full cache disk, where the user frees space through it.
    db.pragma('journal_mode = MEMORY')
    db.pragma('locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
  } catch (error) {
    db.close()
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error
    const owner = readOwner(dir)
    const who = owner ? `pid ${owner.pid}, mounted on ${owner.mountpoint}` : 'another process'
    throw new FichfsError('FICHFS_CACHE_IN_USE', `another fichfs mount of this account uses the cache dir ${dir} (${who})`, {
      hint: 'One mount per cache dir: unmount the other one first (`fichfs unmount MOUNTPOINT`), or give this mount ' +
        'its own --cache-dir (its listings, pending uploads and stored attributes are then its own).',
    })
  }
  const owner: LockOwner = { pid: process.pid, mountpoint, since: Date.now() }
  try {
    writeFileSync(join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o600 })
  } catch {
    // Only the message of a refused second mount uses it (a full disk must not stop the mount).
  }
  let held = true
  return {
    dir,
    release: () => {
      if (!held) return
      held = false
      rmSync(join(dir, OWNER_FILE), { force: true })
      db.close()
    },
  }
}

function readOwner(dir: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as LockOwner
    return typeof owner.pid === 'number' && typeof owner.mountpoint === 'string' ? owner : undefined
  } catch {
    return undefined
  }
}
