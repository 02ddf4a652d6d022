/**
 * One pacer for every call to the 1fichier API host.
 *
 * 1fichier bans clients that call too often: about 3 calls/s overall, one listing per folder
 * per 30 s, user/info about once a minute, and a flood answer (HTTP 403 `#374`/`#412`) locks the
 * caller out for a while. So, before each call:
 *   1. a listing waits for its folder's gate and user/info for its own gate,
 *   2. every call then books a slot on the global gate, spaced by at least `minIntervalMs`
 *      (rclone's 400 ms by default), more after transient errors.
 * After a flood answer the global gate is held for a long cool-down (longer than the service's
 * 60 s lock, doubling while floods repeat) and the call is retried; then calls stay spaced
 * wider for a while (`floodSpacingMs`), so that a client this pacer cannot see (another
 * machine behind the same IP) and this one stop meeting the limit together. Transient errors
 * back off with jitter; final errors are thrown at once.
 *
 * The spacing is measured between the moments calls leave; the service counts them when they
 * arrive, and a call delayed on its way (a busy network, a busy server) arrives close to the
 * next ones. So, besides the spacing, a call starts only once the call `callsPerWindow` before
 * it has been answered `rateWindowMs` ago: its answer is the latest it can have been counted.
 * With answers quicker than 200 ms (the usual case), this never delays anything.
 *
 * Gates live in a GateStore so that several processes on one machine can share them (the
 * mount uses one file for every fichfs process of the user: src/cache/gate-db.ts). A scope
 * names the gates: the global spacing, the flood hold and user/info are per service (1fichier
 * counts them per IP, whatever the account), listings per service and account (folder ids are
 * an account's).
 */
import { MemoryGateStore, type GateStore } from './gate-store.js'
import { backoffDelay, classify, floodCooldown, neverReached } from './retry.js'

export interface PacerOptions {
  /** Minimum spacing between two API calls (rclone: 400 ms). */
  minIntervalMs: number
  /**
   * The service's own rule: at most `callsPerWindow` calls in any `rateWindowMs` (3 per second).
   * Counted from the answers (default: 2.5 spacings): see Pacer.
   */
  rateWindowMs?: number
  callsPerWindow: number
  /** Spacing right after a transient error; it decays back to the minimum on success. */
  maxIntervalMs: number
  /** One listing per folder per this interval (1fichier: 30 s). */
  listingIntervalMs: number
  /** One user/info per this interval (1fichier: 1 min per IP). */
  userInfoIntervalMs: number
  /** First flood cool-down (longer than the service's 60 s lock); doubles while floods repeat. */
  floodCooldownMs: number
  maxFloodCooldownMs: number
  /** After a flood, calls are spaced at least this much... */
  floodSpacingMs: number
  /** ...for this long after the cool-down ends. */
  floodSlowdownMs: number
  /** Give up after this many flood answers in a row for one call. */
  maxFloodRetries: number
  /** Transient-error retries per call. */
  maxRetries: number
  /**
   * While the service cannot be reached at all (connection refused, no route, no DNS answer),
   * a call is retried this long, then fails: a mount or a read must not hang on an outage.
   */
  outageBudgetMs: number
  backoffBaseMs: number
  backoffMaxMs: number
}

export const DEFAULT_PACER_OPTIONS: PacerOptions = {
  minIntervalMs: 400,
  callsPerWindow: 3,
  maxIntervalMs: 5_000,
  listingIntervalMs: 30_000,
  userInfoIntervalMs: 60_000,
  // The lock is 60 s (shared/1fichier-api.md §7; the emulator's default): retrying sooner only
  // meets it again, and each call met while locked counts as a flood.
  floodCooldownMs: 65_000,
  maxFloodCooldownMs: 10 * 60_000,
  // Three times rclone's spacing: two uncoordinated clients on one IP stay under 3 calls/s.
  floodSpacingMs: 1_200,
  floodSlowdownMs: 10 * 60_000,
  maxFloodRetries: 6,
  maxRetries: 8,
  outageBudgetMs: 15_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
}

/** Every duration divided by `scale`: for tests against an emulator started with --time-scale. */
export function scalePacerOptions(options: PacerOptions, scale: number): PacerOptions {
  if (scale === 1) return options
  const scaled = { ...options }
  for (const key of Object.keys(scaled) as Array<keyof PacerOptions>) {
    const value = options[key]
    if (key.endsWith('Ms') && value !== undefined) scaled[key] = Math.max(1, Math.round(value / scale))
  }
  return scaled
}

/** What a call needs besides the global slot. */
export interface CallGate {
  /** The folder id this call lists (folder/ls, file/ls). */
  listing?: number
  userInfo?: boolean
}

export interface PacerStats {
  calls: number
  callsLastMinute: number
  retries: number
  floods: number
  /** When the current flood hold ends (0 if none). */
  floodHoldUntil: number
  /** A call gave up because the service could not be reached, and none has got through since. */
  unreachable: boolean
}

/** Whose gates these are: the API origin and an account id (never the key itself). */
export interface PacerScope {
  service: string
  account: string
}

export interface PacerDeps {
  store?: GateStore
  scope?: PacerScope
  now?: () => number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** Told about every retry decision, for logs. */
  onRetry?: (event: { endpoint: string; kind: 'retry' | 'flood'; attempt: number; delayMs: number; error: unknown }) => void
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Safety margin on the per-folder and user/info gates: clocks and networks are not exact. */
function withMargin(ms: number): number {
  return Math.ceil(ms * 1.05) + 20
}

export class Pacer {
  readonly options: PacerOptions
  private readonly store: GateStore
  private readonly scope?: PacerScope
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly random: () => number
  private readonly onRetry?: PacerDeps['onRetry']
  private interval: number
  private consecutiveFloods = 0
  /** A call gave up on an unreachable service, and none has got through since. */
  private outageKnown = false
  private totals = { calls: 0, retries: 0, floods: 0 }
  private readonly recentCalls: number[] = []
  /** The last calls of this process, in the order they started, and when each was answered. */
  private readonly inFlight: Array<{ answeredAt?: number; answered: Promise<void>; done(): void }> = []
  private readonly rateWindowMs: number

  constructor(options: Partial<PacerOptions> = {}, deps: PacerDeps = {}) {
    this.options = { ...DEFAULT_PACER_OPTIONS, ...options }
    this.store = deps.store ?? new MemoryGateStore()
    this.scope = deps.scope
    this.now = deps.now ?? Date.now
    this.sleep = deps.sleep ?? defaultSleep
    this.random = deps.random ?? Math.random
    this.onRetry = deps.onRetry
    this.interval = this.options.minIntervalMs
    this.rateWindowMs = this.options.rateWindowMs ?? Math.round(this.options.minIntervalMs * 2.5)
  }

  /**
   * Run `send` when the gates allow, retrying as the policy says. `send` receives the attempt
   * number so that a non-idempotent call can recognise "already done" answers on a retry.
   */
  async run<T>(endpoint: string, gate: CallGate, send: (attempt: number) => Promise<T>): Promise<T> {
    let transientRetries = 0
    let floodRetries = 0
    let unreachableSince: number | undefined
    for (let attempt = 1; ; attempt++) {
      const claimed = await this.waitTurn(gate)
      this.countCall()
      const call = this.started()
      try {
        const result = await send(attempt).finally(call.done)
        this.onSuccess()
        return result
      } catch (error) {
        const unreachable = neverReached(error)
        // Any answer, even an error, means the service is reachable again.
        if (!unreachable) this.outageKnown = false
        // Nothing was listed: the folder's (or user/info's) gate is free again.
        if (unreachable && claimed) this.store.release(claimed.key, claimed.until)
        const decision = classify(error)
        if (decision === 'fail') throw error
        if (unreachable) {
          // Once one call has waited out the budget, the outage is known: until a call gets
          // through again, the others fail at their first attempt instead of waiting too.
          if (this.outageKnown) throw error
          unreachableSince ??= this.now()
          if (this.now() - unreachableSince >= this.options.outageBudgetMs) {
            this.outageKnown = true
            throw error
          }
        }
        if (decision === 'flood') {
          this.totals.floods++
          this.consecutiveFloods++
          if (++floodRetries > this.options.maxFloodRetries) throw error
          const delay = floodCooldown(this.consecutiveFloods, { baseMs: this.options.floodCooldownMs, maxMs: this.options.maxFloodCooldownMs })
          this.store.holdUntil(this.serviceKey('api'), this.now() + delay)
          this.store.holdUntil(this.serviceKey('slow'), this.now() + delay + this.options.floodSlowdownMs)
          this.onRetry?.({ endpoint, kind: 'flood', attempt, delayMs: delay, error })
        } else {
          if (++transientRetries > this.options.maxRetries) throw error
          this.interval = this.options.maxIntervalMs
          const delay = backoffDelay(transientRetries, { baseMs: this.options.backoffBaseMs, maxMs: this.options.backoffMaxMs }, this.random)
          this.onRetry?.({ endpoint, kind: 'retry', attempt, delayMs: delay, error })
          await this.sleep(delay)
        }
        this.totals.retries++
      }
    }
  }

  /** True when a listing of `folderId` could start now without waiting for its gate. */
  listingAllowedNow(folderId: number): boolean {
    return this.store.heldUntil(this.accountKey(`list:${folderId}`)) <= this.now()
  }

  stats(): PacerStats {
    this.trimRecent()
    return {
      ...this.totals,
      callsLastMinute: this.recentCalls.length,
      floodHoldUntil: this.store.heldUntil(this.serviceKey('api')) > this.now() ? this.store.heldUntil(this.serviceKey('api')) : 0,
      unreachable: this.outageKnown,
    }
  }

  /** Wait for the call's turn; returns the per-folder or user/info gate it claimed, if any. */
  private async waitTurn(gate: CallGate): Promise<{ key: string; until: number } | undefined> {
    const special = gate.listing !== undefined
      ? { key: this.accountKey(`list:${gate.listing}`), interval: withMargin(this.options.listingIntervalMs) }
      : gate.userInfo ? { key: this.serviceKey('user-info'), interval: withMargin(this.options.userInfoIntervalMs) } : undefined
    for (;;) {
      if (special) {
        const free = this.store.heldUntil(special.key)
        if (free > this.now()) await this.sleep(free - this.now())
      }
      await this.waitFor(this.serviceKey('api'))
      // The per-folder (or user/info) gate is claimed only now, at the real start: a long wait
      // for the global slot must not let two listings of one folder start too close.
      if (!special) return undefined
      if (this.store.claim(special.key, this.now(), special.interval)) return { key: special.key, until: this.store.heldUntil(special.key) }
    }
  }

  /** The spacing now: wider for a while after a flood met by any process of this machine. */
  private spacing(): number {
    const slow = this.store.heldUntil(this.serviceKey('slow')) > this.now()
    return slow ? Math.max(this.interval, this.options.floodSpacingMs) : this.interval
  }

  private async waitFor(key: string): Promise<void> {
    for (;;) {
      const now = this.now()
      // Asked at each booking: calls queued before a flood are booked again after its hold
      // with the spacing that holds then.
      const interval = this.spacing()
      const start = this.store.reserve(key, now, interval)
      if (start > now) await this.sleep(start - now)
      // A flood hold placed while we slept voids the slot: book again behind it.
      if (this.store.heldUntil(key) > this.now()) continue
      // The booking gives each call its turn; the spacing itself is measured between the
      // moments calls really start, since a busy event loop can wake two sleepers together.
      for (;;) {
        await this.answersAllow()
        const at = this.now()
        if (this.store.claim(`${key}:started`, at, interval)) return
        await this.sleep(Math.max(1, this.store.heldUntil(`${key}:started`) - at))
      }
    }
  }

  /** Wait until the call `callsPerWindow` back was answered `rateWindowMs` ago. */
  private async answersAllow(): Promise<void> {
    for (;;) {
      const back = this.inFlight.length >= this.options.callsPerWindow ? this.inFlight[this.inFlight.length - this.options.callsPerWindow] : undefined
      if (!back) return
      if (back.answeredAt === undefined) {
        await back.answered
        continue
      }
      const wait = back.answeredAt + this.rateWindowMs - this.now()
      if (wait <= 0) return
      await this.sleep(wait)
    }
  }

  /** A call leaves now: remember it until its answer. */
  private started(): { done(): void } {
    let resolve!: () => void
    const answered = new Promise<void>((done) => {
      resolve = done
    })
    const call = {
      answeredAt: undefined as number | undefined,
      answered,
      done: () => {
        if (call.answeredAt !== undefined) return
        call.answeredAt = this.now()
        resolve()
      },
    }
    this.inFlight.push(call)
    if (this.inFlight.length > this.options.callsPerWindow) this.inFlight.shift()
    return call
  }

  private serviceKey(key: string): string {
    return this.scope ? `${this.scope.service} ${key}` : key
  }

  private accountKey(key: string): string {
    return this.scope ? `${this.scope.service} ${this.scope.account} ${key}` : key
  }

  private onSuccess(): void {
    this.consecutiveFloods = 0
    this.outageKnown = false
    // rclone's decay: the spacing shrinks to 3/4 per success, down to the minimum.
    this.interval = Math.max(this.options.minIntervalMs, Math.round(this.interval * 0.75))
  }

  private countCall(): void {
    this.totals.calls++
    this.recentCalls.push(this.now())
    this.trimRecent()
  }

  private trimRecent(): void {
    const since = this.now() - 60_000
    while (this.recentCalls.length > 0 && (this.recentCalls[0] ?? 0) < since) this.recentCalls.shift()
  }
}
