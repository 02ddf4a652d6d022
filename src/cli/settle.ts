/**
 * Memory settling: a full garbage collection once the daemon is up, and again whenever it has
 * gone idle after work. V8 collects when it allocates, so a daemon that stops allocating keeps
 * the garbage of its last burst (buffers of a startup listing, a finished upload's chunks) and
 * the heap pages holding it for as long as it stays idle: days, for a mount nobody uses.
 * docs/SEMANTICS.md (Memory).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type Gc = (options?: { type?: 'major' | 'minor' }) => void
let collect: Gc | undefined

/** V8's gc(), without --expose-gc on the command line. */
function gcFunction(): Gc {
  if (collect) return collect
  const exposed = (globalThis as { gc?: Gc }).gc
  if (exposed) return (collect = exposed)
  setFlagsFromString('--expose-gc')
  collect = runInNewContext('gc') as Gc
  return collect
}

/**
 * A young-generation collection (a scavenge: about a millisecond, no pause of the old
 * generation), for the reader's downloads (reader.ts, youngCollection); undefined where V8's
 * gc() cannot be had.
 */
export function youngCollector(): (() => void) | undefined {
  try {
    const gc = gcFunction()
    return () => gc({ type: 'minor' })
  } catch {
    return undefined
  }
}

/** One full collection now. */
export function settleMemory(): void {
  try {
    gcFunction()()
  } catch {
    // A Node without the flag: the heap settles at its next collection.
  }
}

/**
 * Settle whenever a check finds the process idle (under `idleCpuShare` of a core since the last
 * check) after a busy spell. The timer is unref'd: it never keeps the process alive.
 */
export function settleWhenIdle(options: { everyMs?: number; idleCpuShare?: number } = {}): () => void {
  const everyMs = options.everyMs ?? 10_000
  const idleShare = options.idleCpuShare ?? 0.01
  let last = process.cpuUsage()
  let busySinceSettle = false
  const timer = setInterval(() => {
    const now = process.cpuUsage()
    const usedMs = (now.user - last.user + now.system - last.system) / 1000
    last = now
    if (usedMs > everyMs * idleShare) {
      busySinceSettle = true
      return
    }
    if (!busySinceSettle) return
    busySinceSettle = false
    settleMemory()
    last = process.cpuUsage()
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
