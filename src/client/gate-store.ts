/**
 * Where the pacer keeps "when may the next call of this kind start". The in-memory store serves
 * one process; the metadata cache provides a SQLite-backed store so that the mount daemon and
 * CLI commands running at the same time share one budget (they share one IP and one key).
 */
export interface GateStore {
  /**
   * Atomically book the next start for `key`: the first instant >= now that is at least
   * `intervalMs` after the previous booking and not before any hold. Returns that instant.
   */
  reserve(key: string, now: number, intervalMs: number): number
  /** Forbid starts on `key` before `until` (a flood cool-down). */
  holdUntil(key: string, until: number): void
  /**
   * Atomically: if `key` is not held at `now`, hold it until `now + intervalMs` and return
   * true; otherwise return false (someone else got there first).
   */
  claim(key: string, now: number, intervalMs: number): boolean
  /** The instant before which nothing may start on `key` (0 if free). */
  heldUntil(key: string): number
  /** Undo a claim that was not used (its call never reached the service): if `key` is still held until `until`, free it. */
  release(key: string, until: number): void
}

export class MemoryGateStore implements GateStore {
  private readonly next = new Map<string, number>()
  private readonly holds = new Map<string, number>()

  reserve(key: string, now: number, intervalMs: number): number {
    const start = Math.max(now, this.next.get(key) ?? 0, this.holds.get(key) ?? 0)
    this.next.set(key, start + intervalMs)
    return start
  }

  holdUntil(key: string, until: number): void {
    this.holds.set(key, Math.max(until, this.holds.get(key) ?? 0))
  }

  heldUntil(key: string): number {
    return this.holds.get(key) ?? 0
  }

  claim(key: string, now: number, intervalMs: number): boolean {
    if ((this.holds.get(key) ?? 0) > now) return false
    this.holds.set(key, now + intervalMs)
    return true
  }

  release(key: string, until: number): void {
    if (this.holds.get(key) === until) this.holds.delete(key)
  }
}
