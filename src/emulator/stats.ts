import type { FloodReason } from './rate-limiter.js'

export interface FloodRecord {
  /** ISO 8601 time of the answer. */
  at: string
  reason: FloodReason
  path: string
}

export interface EmulatorStats {
  /** API calls by path (`folder/ls.cgi`...), every answer counted, floods and errors included. */
  calls: Record<string, number>
  apiCalls: number
  upload: { requests: number; files: number; bytes: number }
  endPl: number
  download: {
    requests: number
    bytes: number
    authHeaderSeen: number
    /** Download bodies being sent now. */
    active: number
    /** The most download bodies sent at once (since the start or the last reset). */
    maxActive: number
  }
  floods: {
    /** A rule was broken and the caller got locked. */
    triggered: number
    /** faults.floodNext answers. */
    forced: number
    /** Answers refused because the caller was already locked. */
    whileLocked: number
    total: number
    /** The most recent flood answers, oldest first (at most 20). */
    last: FloodRecord[]
  }
  /** 401 answers on the API and on upload.cgi. */
  authFailures: number
  faultsInjected: { latency: number; error: number; reset: number; endHtml: number; uploadReset: number; lostAnswer: number; flood: number }
}

const KEPT_FLOODS = 20

function emptyStats(): EmulatorStats {
  return {
    calls: {},
    apiCalls: 0,
    upload: { requests: 0, files: 0, bytes: 0 },
    endPl: 0,
    download: { requests: 0, bytes: 0, authHeaderSeen: 0, active: 0, maxActive: 0 },
    floods: { triggered: 0, forced: 0, whileLocked: 0, total: 0, last: [] },
    authFailures: 0,
    faultsInjected: { latency: 0, error: 0, reset: 0, endHtml: 0, uploadReset: 0, lostAnswer: 0, flood: 0 },
  }
}

export class StatsCollector {
  data: EmulatorStats = emptyStats()

  reset(): void {
    // Bodies still being sent stay counted, so that their end does not go below zero.
    const active = this.data.download.active
    this.data = emptyStats()
    this.data.download.active = active
    this.data.download.maxActive = active
  }

  downloadStarted(): void {
    const download = this.data.download
    download.active += 1
    if (download.active > download.maxActive) download.maxActive = download.active
  }

  downloadEnded(): void {
    this.data.download.active -= 1
  }

  snapshot(): EmulatorStats {
    return structuredClone(this.data)
  }

  countApiCall(path: string): void {
    this.data.apiCalls += 1
    this.data.calls[path] = (this.data.calls[path] ?? 0) + 1
  }

  countFlood(kind: 'triggered' | 'forced' | 'whileLocked', reason: FloodReason, path: string): void {
    const floods = this.data.floods
    floods[kind] += 1
    floods.total += 1
    floods.last.push({ at: new Date().toISOString(), reason, path })
    if (floods.last.length > KEPT_FLOODS) floods.last.shift()
    if (kind === 'forced') this.data.faultsInjected.flood += 1
  }
}
