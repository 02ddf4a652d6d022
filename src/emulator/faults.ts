import { Prng } from './prng.js'

/** Faults the emulator injects on purpose, to exercise the client's retry and resume paths. */
export interface EmulatorFaults {
  /** Added before answering every API, upload, end.pl and download request. */
  latencyMs: number
  /** Cap on download and upload body throughput, per request; 0 = unlimited. */
  bandwidthBytesPerSec: number
  /** Share (0..1) of API, upload.cgi and download requests answered with a 5xx. */
  errorRate: number
  /** Share (0..1) of download responses whose socket is destroyed mid-body. */
  resetRate: number
  /** Share (0..1) of end.pl answers sent as HTML even with the `JSON: 1` header. */
  endHtmlRate: number
  /** Share (0..1) of upload.cgi requests cut mid-body (in its first half): nothing is stored. */
  uploadResetRate: number
  /**
   * Share (0..1) of upload.cgi requests whose files are stored but whose answer is lost: the
   * connection is destroyed instead of the 302 (the end.pl report stays available).
   */
  lostAnswerRate: number
  /** The next N API calls get the flood 403 and lock the caller. */
  floodNext: number
}

export const NO_FAULTS: EmulatorFaults = {
  latencyMs: 0,
  bandwidthBytesPerSec: 0,
  errorRate: 0,
  resetRate: 0,
  endHtmlRate: 0,
  uploadResetRate: 0,
  lostAnswerRate: 0,
  floodNext: 0,
}

const RATES = ['errorRate', 'resetRate', 'endHtmlRate', 'uploadResetRate', 'lostAnswerRate'] as const
const COUNTS = ['latencyMs', 'bandwidthBytesPerSec', 'floodNext'] as const

/** Check an untrusted partial fault set (admin JSON, CLI flags); throws on the first bad field. */
export function validateFaults(input: unknown): Partial<EmulatorFaults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('faults must be a JSON object')
  const out: Partial<EmulatorFaults> = {}
  for (const [key, value] of Object.entries(input)) {
    if ((RATES as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error(`${key} must be a number in 0..1`)
    } else if ((COUNTS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${key} must be a number >= 0`)
    } else {
      throw new Error(`unknown fault ${key}`)
    }
    out[key as keyof EmulatorFaults] = key === 'floodNext' ? Math.floor(value) : value
  }
  return out
}

export class FaultInjector {
  private faults: EmulatorFaults
  private readonly prng: Prng

  constructor(initial: Partial<EmulatorFaults>, seed: number) {
    this.faults = { ...NO_FAULTS, ...validateFaults(initial) }
    this.prng = new Prng(seed)
  }

  get current(): EmulatorFaults {
    return { ...this.faults }
  }

  set(partial: Partial<EmulatorFaults>): EmulatorFaults {
    this.faults = { ...this.faults, ...validateFaults(partial) }
    return this.current
  }

  reseed(seed: number): void {
    this.prng.reseed(seed)
  }

  /** Roll the dice for one of the rate faults. */
  strikes(fault: (typeof RATES)[number]): boolean {
    return this.prng.chance(this.faults[fault])
  }

  /** A float in [0, 1) from the seeded sequence (where to cut a reset body, which 5xx...). */
  draw(): number {
    return this.prng.next()
  }

  pick<T>(items: readonly T[]): T {
    return this.prng.pick(items)
  }

  /** Consume one forced flood if any is pending. */
  takeForcedFlood(): boolean {
    if (this.faults.floodNext <= 0) return false
    this.faults.floodNext -= 1
    return true
  }
}
