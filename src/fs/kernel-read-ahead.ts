/**
 * The kernel's read-ahead on the mount. Linux gives a FUSE mount 128 KiB of read-ahead (its
 * backing device's default; libfuse 2 cannot ask for more at init), so a sequential reader has
 * about 2 requests of 128 KiB in flight: each waits for the daemon's event loop in turn, and a
 * busy loop or a busy machine stalls the reader. With 1 MiB the kernel sends the requests of a
 * whole read-ahead window at once; the daemon answers those its blocks already hold in one turn.
 *
 * The setting is the mount's backing device's `read_ahead_kb` in sysfs, which only root may
 * write: a mount by another user keeps the kernel's 128 KiB (reads are the same, only slower
 * under load). docs/SEMANTICS.md ("Reads").
 */
import { readFile, writeFile } from 'node:fs/promises'

/** The read-ahead fichfs asks the kernel for. */
export const KERNEL_READ_AHEAD_BYTES = 1 << 20

/** mountinfo escapes space, tab, newline and backslash in paths as octal (\040 ...). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/**
 * The device ("major:minor") of the last mount on `mountpoint` in a mountinfo text, or
 * undefined. Read from /proc, never from the mount itself: a daemon that stats its own mount
 * would be asking itself (shared/fuse-native.md §3.1).
 */
export function mountDevice(mountinfo: string, mountpoint: string): string | undefined {
  let device: string | undefined
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ')
    if (fields.length > 4 && /^\d+:\d+$/.test(fields[2] as string) && unescapeMountPath(fields[4] as string) === mountpoint) device = fields[2]
  }
  return device
}

export interface ReadAheadOutcome {
  /** The read-ahead the kernel uses for the mount now, in KiB (undefined: it could not be read). */
  readAheadKb?: number
  /** Why it could not be set (not root, no sysfs, mount not found). */
  error?: string
}

/**
 * Set the mount's read-ahead to `bytes`. The kernel lowers it once more when it takes the init
 * answer, which may come just after the mount returned, so the value is checked again after a
 * moment and set again if it was lowered.
 */
export async function setKernelReadAhead(mountpoint: string, bytes = KERNEL_READ_AHEAD_BYTES, options: { checks?: number; delayMs?: number } = {}): Promise<ReadAheadOutcome> {
  const wantKb = Math.max(4, Math.round(bytes / 1024))
  const checks = options.checks ?? 4
  const delayMs = options.delayMs ?? 250
  let device: string | undefined
  try {
    device = mountDevice(await readFile('/proc/self/mountinfo', 'utf8'), mountpoint)
  } catch (error) {
    return { error: `cannot read /proc/self/mountinfo: ${(error as Error).message}` }
  }
  if (!device) return { error: `${mountpoint} is not in /proc/self/mountinfo` }
  const file = `/sys/class/bdi/${device}/read_ahead_kb`
  const current = async () => Number((await readFile(file, 'utf8')).trim())
  try {
    for (let check = 0; check < checks; check++) {
      if (check > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
      if ((await current()) !== wantKb) await writeFile(file, String(wantKb))
    }
    return { readAheadKb: await current() }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return { readAheadKb: await current().catch(() => undefined), error: code === 'EACCES' || code === 'EPERM' ? `${file} is writable by root only` : (error as Error).message }
  }
}
