/**
 * The pacer's gates in a SQLite file shared by every fichfs process of the user on this machine
 * (mounts of any cache dir, CLI commands), so they pace as one client: 1fichier counts calls per
 * IP (and some per account), not per process or per cache dir. The file lives in the user's
 * runtime dir; the keys say which service (and account) each gate is for (pacer.ts).
 *
 * Each booking is one IMMEDIATE transaction (the write lock is taken before reading), so two
 * processes never get the same slot. WAL and synchronous=NORMAL: a booking costs no fsync.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { GateStore } from '../client/gate-store.js'

export const GATES_FILE = 'gates.sqlite'

export interface SharedGateStore extends GateStore {
  readonly path: string
  close(): void
}

export function openSharedGates(dir: string): SharedGateStore {
  const path = join(dir, GATES_FILE)
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // Many processes may book at once; a booking holds the lock for microseconds.
  db.pragma('busy_timeout = 5000')
  db.exec('CREATE TABLE IF NOT EXISTS gates (key TEXT PRIMARY KEY, next INTEGER NOT NULL DEFAULT 0, hold INTEGER NOT NULL DEFAULT 0)')
  // Gates an hour in the past constrain nothing: forget them (every emulator a test started
  // leaves its own keys).
  const old = Date.now() - 3_600_000
  db.prepare('DELETE FROM gates WHERE next < ? AND hold < ?').run(old, old)
  const get = db.prepare('SELECT next, hold FROM gates WHERE key = ?')
  const set = db.prepare('INSERT INTO gates (key, next, hold) VALUES (@key, @next, @hold) ON CONFLICT(key) DO UPDATE SET next = excluded.next, hold = excluded.hold')
  const read = (key: string) => (get.get(key) as { next: number; hold: number } | undefined) ?? { next: 0, hold: 0 }
  // The clock is read again inside each transaction: waiting for another process's write
  // lock must not make a booking (or a start) look earlier than it is.
  const reserve = db.transaction((key: string, asked: number, intervalMs: number) => {
    const now = Math.max(asked, Date.now())
    const gate = read(key)
    const start = Math.max(now, gate.next, gate.hold)
    set.run({ key, next: start + intervalMs, hold: gate.hold })
    return start
  })
  const claim = db.transaction((key: string, asked: number, intervalMs: number) => {
    const now = Math.max(asked, Date.now())
    const gate = read(key)
    if (gate.hold > now) return false
    set.run({ key, next: gate.next, hold: now + intervalMs })
    return true
  })
  const release = db.transaction((key: string, until: number) => {
    const gate = read(key)
    if (gate.hold === until) set.run({ key, next: gate.next, hold: 0 })
  })
  const hold = db.transaction((key: string, until: number) => {
    const gate = read(key)
    set.run({ key, next: gate.next, hold: Math.max(gate.hold, until) })
  })
  return {
    path,
    reserve: (key, now, intervalMs) => reserve.immediate(key, now, intervalMs) as number,
    claim: (key, now, intervalMs) => claim.immediate(key, now, intervalMs) as boolean,
    holdUntil: (key, until) => hold.immediate(key, until),
    heldUntil: (key) => read(key).hold,
    release: (key, until) => release.immediate(key, until),
    close: () => db.close(),
  }
}
