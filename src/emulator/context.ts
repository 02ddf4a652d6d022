import type { Account } from './account.js'
import type { FaultInjector } from './faults.js'
import type { RateLimiter } from './rate-limiter.js'
import type { RemoteUploads } from './remote.js'
import type { Sessions } from './sessions.js'
import type { StatsCollector } from './stats.js'

export interface UploadLimits {
  /** Bytes per file (the service: 300e9). */
  maxFileSize: number
  /** Files per upload request (the service: 500). */
  maxFiles: number
  /** Bytes per upload request, from Content-Length (the service: 500e9). */
  maxRequestSize: number
}

export interface EmulatorConfig {
  apiKey: string
  email: string
  quotaBytes: number
  timeScale: number
  dataDir: string
  tmpDir: string
  /** host[:port] returned by get_upload_server; set once the port is known. */
  uploadHost: string
  /** scheme://host[:port] of download token URLs; set once the port is known. */
  downloadBase: string
  uploadLimits: UploadLimits
}

/** Everything a request handler needs, built once by startEmulator. */
export interface EmulatorContext {
  config: EmulatorConfig
  account: Account
  sessions: Sessions
  remote: RemoteUploads
  limiter: RateLimiter
  faults: FaultInjector
  stats: StatsCollector
  /** Divide a duration by the time scale. */
  scaled(ms: number): number
}
