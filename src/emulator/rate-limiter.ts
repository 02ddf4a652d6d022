/**
 * The flood rules of 1fichier (shared/1fichier-api.md §7), per client IP, as a pure class: the
 * clock is injected so the rules can be unit-tested without waiting.
 */

export interface RateLimitConfig {
  /** false: only forced locks apply (faults.floodNext); the rules are not evaluated. */
  rulesEnabled: boolean
  /** Sliding window of the global rule, and how many calls it admits. */
  windowMs: number
  maxCallsPerWindow: number
  /** Minimum gap between two listings (folder/ls or file/ls) of the same folder. */
  folderListingGapMs: number
  /** Minimum gap between two file/ls of folder_id -1. */
  allFilesListingGapMs: number
  /** Minimum gap between two user/info calls. */
  userInfoGapMs: number
  lockMs: number
}

export type RateCall =
  | { kind: 'other' }
  | { kind: 'listing'; folderId: number }
  | { kind: 'all-files' }
  | { kind: 'user-info' }

export type FloodReason = 'calls-per-second' | 'folder-listing' | 'all-files-listing' | 'user-info' | 'locked' | 'forced'

export type RateVerdict = { allowed: true } | { allowed: false; reason: FloodReason; whileLocked: boolean }

interface ClientState {
  lockedUntil: number
  /** Start times of the most recent admitted calls (at most maxCallsPerWindow kept). */
  recentCalls: number[]
  listings: Map<number, number>
  lastAllFiles?: number
  lastUserInfo?: number
}

export class RateLimiter {
  private readonly clients = new Map<string, ClientState>()

  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number,
  ) {}

  /** Decide one API call. A refused call does not extend a running lock. */
  hit(ip: string, call: RateCall): RateVerdict {
    const now = this.now()
    const client = this.client(ip)
    if (client.lockedUntil > now) return { allowed: false, reason: 'locked', whileLocked: true }
    if (!this.config.rulesEnabled) return { allowed: true }

    const broken = this.brokenRule(client, call, now)
    if (broken) {
      client.lockedUntil = now + this.config.lockMs
      return { allowed: false, reason: broken, whileLocked: false }
    }
    this.record(client, call, now)
    return { allowed: true }
  }

  /** Lock a caller without a rule being broken (forced floods). */
  lock(ip: string): void {
    this.client(ip).lockedUntil = this.now() + this.config.lockMs
  }

  isLocked(ip: string): boolean {
    return (this.clients.get(ip)?.lockedUntil ?? 0) > this.now()
  }

  /** Forget every lock and every window. */
  reset(): void {
    this.clients.clear()
  }

  private brokenRule(client: ClientState, call: RateCall, now: number): FloodReason | undefined {
    const { config } = this
    const inWindow = client.recentCalls.filter((at) => at > now - config.windowMs)
    if (inWindow.length >= config.maxCallsPerWindow) return 'calls-per-second'
    switch (call.kind) {
      case 'listing': {
        const last = client.listings.get(call.folderId)
        if (last !== undefined && now - last < config.folderListingGapMs) return 'folder-listing'
        return undefined
      }
      case 'all-files':
        if (client.lastAllFiles !== undefined && now - client.lastAllFiles < config.allFilesListingGapMs) return 'all-files-listing'
        return undefined
      case 'user-info':
        if (client.lastUserInfo !== undefined && now - client.lastUserInfo < config.userInfoGapMs) return 'user-info'
        return undefined
      case 'other':
        return undefined
    }
  }

  private record(client: ClientState, call: RateCall, now: number): void {
    client.recentCalls.push(now)
    if (client.recentCalls.length > this.config.maxCallsPerWindow) client.recentCalls.shift()
    switch (call.kind) {
      case 'listing':
        this.forgetOldListings(client, now)
        client.listings.set(call.folderId, now)
        break
      case 'all-files':
        client.lastAllFiles = now
        break
      case 'user-info':
        client.lastUserInfo = now
        break
      case 'other':
        break
    }
  }

  // Keeps the per-folder map from growing with every folder ever listed.
  private forgetOldListings(client: ClientState, now: number): void {
    for (const [folderId, at] of client.listings) {
      if (now - at >= this.config.folderListingGapMs) client.listings.delete(folderId)
    }
  }

  private client(ip: string): ClientState {
    let client = this.clients.get(ip)
    if (!client) {
      client = { lockedUntil: 0, recentCalls: [], listings: new Map() }
      this.clients.set(ip, client)
    }
    return client
  }
}
