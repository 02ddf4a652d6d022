import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/**
 * Lets bytes through no faster than `bytesPerSec`: each chunk is held until the moment the
 * running total is allowed to have passed. Backpressure does the rest upstream.
 */
export class Throttle extends Transform {
  private readonly startedAt = Date.now()
  private passed = 0

  constructor(private readonly bytesPerSec: number) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.passed += chunk.length
    const due = this.startedAt + (this.passed / this.bytesPerSec) * 1000
    const wait = due - Date.now()
    if (wait <= 0) callback(null, chunk)
    else setTimeout(() => callback(null, chunk), wait)
  }
}

/**
 * `source` slowed to `bytesPerSec` (0: unchanged). Joined by pipeline so an aborted source
 * fails the throttled stream and a consumer that gives up tears the source down.
 */
export function throttled(source: Readable, bytesPerSec: number): Readable {
  if (bytesPerSec <= 0) return source
  const throttle = new Throttle(bytesPerSec)
  pipeline(source, throttle).catch(() => undefined)
  return throttle
}
