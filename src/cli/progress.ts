/**
 * Progress of a long wait (uploads before an unmount, a remote upload, a CLI upload): a bar
 * redrawn in place on a terminal, plain lines otherwise (a log file, the journal, a pipe), so
 * that logs never fill with carriage returns and a terminal never scrolls with repeats.
 */
import type { UploadStatus } from '../fs/uploader.js'
import { formatBytes } from './format.js'

export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressOptions {
  /** What is being waited for, e.g. `fichfs: uploading before unmount`. */
  label: string
  /** How `done` and `total` read: bytes get human units, items are counted. */
  unit: 'bytes' | 'items'
  /** Default: stderr (stdout is kept for results scripts read). */
  stream?: ProgressStream
  /** Plain mode: at most one line per this many ms (default 1000). */
  plainEveryMs?: number
  /** Bar mode: at most one redraw per this many ms (default 100). */
  redrawEveryMs?: number
  now?: () => number
}

export interface ProgressState {
  done: number
  /** Unknown totals show no bar, only the count. */
  total?: number
  /** A short free text after the numbers (a file name, a state). */
  detail?: string
}

export interface Progress {
  update(state: ProgressState): void
  /** Print a line of its own without garbling the bar. */
  log(line: string): void
  /** Clear the bar; print `line` if given. */
  finish(line?: string): void
}

const BAR_WIDTH = 24

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr
  const now = options.now ?? Date.now
  return stream.isTTY ? new BarProgress(options, stream, now) : new PlainProgress(options, stream, now)
}

/** `6.0 MiB of 10 MiB (60%)`, `2 of 5 (40%)`, `3`. */
export function describeAmount(state: ProgressState, unit: ProgressOptions['unit']): string {
  const format = (n: number) => (unit === 'bytes' ? formatBytes(n) : String(n))
  if (state.total === undefined || state.total <= 0) return format(state.done)
  return `${format(state.done)} of ${format(state.total)} (${percent(state)}%)`
}

function percent(state: ProgressState): number {
  if (!state.total) return 0
  return Math.max(0, Math.min(100, Math.floor((state.done / state.total) * 100)))
}

export function renderBar(state: ProgressState, width = BAR_WIDTH): string {
  if (state.total === undefined || state.total <= 0) return ''
  const filled = Math.round((percent(state) / 100) * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`
}

class BarProgress implements Progress {
  private last?: ProgressState
  private drawnAt = -Infinity
  private visible = false

  constructor(private readonly options: ProgressOptions, private readonly stream: ProgressStream, private readonly now: () => number) {}

  update(state: ProgressState): void {
    this.last = state
    if (this.now() - this.drawnAt < (this.options.redrawEveryMs ?? 100)) return
    this.draw()
  }

  log(line: string): void {
    this.clear()
    this.stream.write(`${line}\n`)
    if (this.last) this.draw()
  }

  finish(line?: string): void {
    this.clear()
    if (line) this.stream.write(`${line}\n`)
  }

  private draw(): void {
    if (!this.last) return
    const bar = renderBar(this.last)
    const parts = [this.options.label, bar, describeAmount(this.last, this.options.unit), this.last.detail ?? ''].filter(Boolean)
    const columns = this.stream.columns && this.stream.columns > 10 ? this.stream.columns : 80
    // One character short of the width: a full line would wrap on some terminals.
    this.stream.write(`\r\x1b[2K${parts.join(' ').slice(0, columns - 1)}`)
    this.drawnAt = this.now()
    this.visible = true
  }

  private clear(): void {
    if (!this.visible) return
    this.stream.write('\r\x1b[2K')
    this.visible = false
  }
}

class PlainProgress implements Progress {
  private printedAt = -Infinity

  constructor(private readonly options: ProgressOptions, private readonly stream: ProgressStream, private readonly now: () => number) {}

  update(state: ProgressState): void {
    if (this.now() - this.printedAt < (this.options.plainEveryMs ?? 1000)) return
    this.printedAt = this.now()
    const detail = state.detail ? `, ${state.detail}` : ''
    this.stream.write(`${this.options.label}: ${describeAmount(state, this.options.unit)}${detail}\n`)
  }

  log(line: string): void {
    this.stream.write(`${line}\n`)
  }

  finish(line?: string): void {
    if (line) this.stream.write(`${line}\n`)
  }
}

/**
 * The uploads a mount still has to send, while it drains its queue (an unmount, a stop). The
 * mount reports what is left and what it has sent since it started; the bar counts from the
 * first report. `finish` with the final status says how much went out.
 */
export function uploadProgress(label: string, stream?: ProgressStream): { update(status: UploadStatus): void; finish(final?: UploadStatus): void } {
  const display = createProgress({ label, unit: 'bytes', stream })
  let first: UploadStatus | undefined
  return {
    update: (status) => {
      if (status.pending === 0 && !first) return
      first ??= status
      const sent = Math.max(0, status.bytesSent - first.bytesSent)
      const total = Math.max(first.bytesPending, sent)
      display.update({ done: Math.min(sent, total), total, detail: `${status.pending} file(s) left` })
    },
    finish: (final) => {
      const drained = first && final && final.pending === 0
      display.finish(drained ? `fichfs: pending uploads done (${formatBytes(Math.max(0, final.bytesSent - (first?.bytesSent ?? 0)))} sent)` : undefined)
    },
  }
}
