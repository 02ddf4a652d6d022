/**
 * Space on the cache disk (the spool, the metadata database and the block cache share it).
 *
 * When it fills up, writes must fail with ENOSPC and the user must still be able to delete
 * files to make room; but deleting is itself a journal write, which SQLite refuses on a full
 * disk ("database or disk is full"). So a small reserve file is kept beside the database and
 * given back the moment the disk is found full: that frees room for the journal to record
 * what follows (the failed write, the deletes). Until space is back, new content is refused
 * at once (ENOSPC), so that room is not eaten again; once there is room for the reserve and
 * some more, it is laid down again and everything works as before, without a restart.
 */
import { existsSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../log.js'
import { fsError, isDiskFull } from './errors.js'

export const RESERVE_FILE = 'space-reserve'

export interface CacheSpaceStatus {
  dir: string
  freeBytes: number
  totalBytes: number
  /** True while new content is refused (the reserve is given back and not laid down again yet). */
  full: boolean
  reserveBytes: number
}

/**
 * Before the journal is even opened (SQLite needs room to open it: its WAL and shared-memory
 * files): on a disk found full, give the reserve an earlier run left back. True if it did.
 */
export function freeReserveIfFull(dir: string, reserveBytes: number): boolean {
  const path = join(dir, RESERVE_FILE)
  try {
    if (!existsSync(path)) return false
    const stats = statfsSync(dir)
    if (stats.bavail * stats.bsize >= reserveBytes) return false
    rmSync(path, { force: true })
    return true
  } catch {
    return false
  }
}

export class CacheSpace {
  private reserveHeld = false
  private started = false
  private fullSince: number | undefined

  constructor(
    readonly dir: string,
    private readonly reserveBytes: number,
    private readonly log?: Logger,
  ) {}

  private get enabled(): boolean {
    return this.reserveBytes > 0
  }

  private get reservePath(): string {
    return join(this.dir, RESERVE_FILE)
  }

  /**
   * At mount, before anything is journaled: keep the reserve an earlier run left (given back at
   * once if the disk is full already, so the mount can start), or lay one down if there is room.
   */
  start(): void {
    if (!this.enabled || this.started) return
    this.started = true
    try {
      if (existsSync(this.reservePath) && statSync(this.reservePath).size === this.reserveBytes) {
        this.reserveHeld = true
        this.beforeFreeing()
        return
      }
    } catch {
      // Laid down again below.
    }
    if (!this.restore()) this.noteFull()
  }

  /** Before new content (a create, a write): refused at once while the disk is full. */
  admit(): void {
    if (!this.enabled || this.reserveHeld || this.restore()) return
    throw fsError('ENOSPC', this.fullMessage())
  }

  /**
   * The disk was found full (a write or the journal failed with ENOSPC/SQLITE_FULL): give the
   * reserve back so the journal can record what follows. Idempotent.
   */
  noteFull(): void {
    if (!this.enabled) return
    if (this.reserveHeld) {
      rmSync(this.reservePath, { force: true })
      this.reserveHeld = false
    }
    if (this.fullSince === undefined) {
      this.fullSince = Date.now()
      const { free } = this.measure()
      this.log?.warn({ cacheDir: this.dir, freeBytes: free },
        `the cache disk is full (${this.dir}): new files and writes fail with ENOSPC until space is freed; deleting files still works`)
    }
  }

  /** Before a delete: on a disk that is (nearly) full, free the reserve first so it can be journaled. */
  beforeFreeing(): void {
    if (this.enabled && this.reserveHeld && this.measure().free < this.reserveBytes) this.noteFull()
  }

  /** A failure that means "the disk is full" moves to the full state; others are left alone. */
  check(error: unknown): void {
    if (isDiskFull(error)) this.noteFull()
  }

  status(): CacheSpaceStatus {
    if (this.enabled && !this.reserveHeld) this.restore()
    const { free, total } = this.measure()
    return { dir: this.dir, freeBytes: free, totalBytes: total, full: this.enabled && !this.reserveHeld, reserveBytes: this.reserveBytes }
  }

  fullMessage(): string {
    return `no space left on the cache disk (${this.dir}, ${this.measure().free} bytes free); delete files to make room`
  }

  /** Lay the reserve down again once there is room for it and as much again. */
  private restore(): boolean {
    if (this.measure().free < 2 * this.reserveBytes + (1 << 20)) return false
    try {
      writeFileSync(this.reservePath, Buffer.alloc(this.reserveBytes), { mode: 0o600 })
    } catch {
      rmSync(this.reservePath, { force: true })
      return false
    }
    this.reserveHeld = true
    if (this.fullSince !== undefined) {
      this.log?.warn({ cacheDir: this.dir, fullForMs: Date.now() - this.fullSince }, `the cache disk has room again (${this.dir}); writes work again`)
      this.fullSince = undefined
    }
    return true
  }

  private measure(): { free: number; total: number } {
    try {
      const stats = statfsSync(this.dir)
      return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize }
    } catch {
      return { free: Number.POSITIVE_INFINITY, total: 0 }
    }
  }
}
