/**
 * What both benchmarks share: temp dirs and a cleanup list that runs also on failure and on
 * Ctrl-C, the real mount daemon in a child process (a process serving FUSE must never touch its
 * own mount), its peak RSS from /proc, its control socket, the probe child that plays the plain
 * HTTP client, and the single JSON line on stdout. Progress goes to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { nodeFlagsOf } from '../../src/cli/launcher.js'
import type { Emulator, EmulatorStats } from '../../src/emulator/index.js'

const started = performance.now()

export function progress(message: string): void {
  process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`)
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

export const MIB = 1024 * 1024
/** MB/s in the decimal sense (10^6 bytes), as dd and the fuse-native notes report it. */
export const mbps = (bytes: number, ms: number) => round(bytes / 1e6 / (ms / 1000), 1)
export const round = (value: number, digits = 0) => Number(value.toFixed(digits))
export const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : null)

/** The repository root, found from this file wherever tsc emitted it (dist-bench/scripts/bench). */
export function repoRoot(): string {
  let dir = import.meta.dirname
  while (dir !== dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'fichfs') return dir
    dir = dirname(dir)
  }
  throw new Error('cannot find the fichfs repository root')
}

export const ROOT = repoRoot()
/** The daemon to measure: this checkout's, or another build's (FICHFS_BENCH_BIN=/other/checkout/bin/fichfs.js) for before/after runs. */
export const BIN = process.env.FICHFS_BENCH_BIN ?? join(ROOT, 'bin', 'fichfs.js')
export const PROBE = join(import.meta.dirname, 'probe.js')

// --- cleanup -------------------------------------------------------------------------------

type CleanupStep = { label: string; run: () => Promise<unknown> | unknown }

/** Steps run last-added first, each once, whatever happened before. */
export class Cleanup {
  private steps: CleanupStep[] = []
  private running: Promise<void> | undefined
  /** Set when the benchmark failed, so that steps can say more (the daemon's log). */
  failed = false

  add(label: string, run: CleanupStep['run']): void {
    this.steps.push({ label, run })
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run()
        } catch (error) {
          progress(`cleanup: ${step.label} failed: ${(error as Error).message}`)
        }
      }
    })()
    return this.running
  }
}

/**
 * Run a benchmark: its result is the one stdout line; a failure prints `{ok:false,error}`
 * instead, so a caller always gets exactly one line. Temp dirs and mounts go in every case.
 */
export async function main(name: string, body: (cleanup: Cleanup) => Promise<Record<string, unknown>>): Promise<void> {
  const cleanup = new Cleanup()
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    progress(`${signal}: cleaning up`)
    void cleanup.run().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let result: Record<string, unknown>
  try {
    result = { bench: name, ok: true, ...(await body(cleanup)) }
  } catch (error) {
    // After a signal, failures are the cleanup pulling the mount from under a command.
    if (!interrupted) progress(`failed: ${(error as Error).stack ?? String(error)}`)
    cleanup.failed = !interrupted
    result = { bench: name, ok: false, error: (error as Error).message }
  }
  await cleanup.run()
  if (interrupted) return
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exitCode = result.ok ? 0 : 1
}

export async function tempRoot(cleanup: Cleanup, label: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `fichfs-bench-${label}-`))
  cleanup.add(`remove ${root}`, () => rm(root, { recursive: true, force: true }))
  return root
}

// --- shell and files -----------------------------------------------------------------------

export interface ShResult {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** Run a bash command in a child process (never blocking this one, which serves the emulator). */
export function sh(command: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ShResult> {
  return new Promise((done) => {
    const t0 = performance.now()
    const child = spawn('bash', ['-c', command], { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 3_600_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

export async function mustSh(command: string, options: Parameters<typeof sh>[1] = {}): Promise<ShResult> {
  const result = await sh(command, options)
  if (result.code !== 0) throw new Error(`command failed (${result.code}): ${command}\n${result.stderr.slice(-2000)}`)
  return result
}

export const q = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`

/** Bytes a `dd` run reports having copied (its summary line on stderr). */
export function ddBytes(stderr: string): number | null {
  const match = stderr.match(/^(\d+) bytes/m)
  return match ? Number(match[1]) : null
}

/** Incompressible content, written in 1 MiB chunks so memory stays flat whatever the size. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const file = await open(path, 'w')
  const chunk = Buffer.allocUnsafe(Math.min(MIB, Math.max(size, 1)))
  try {
    for (let done = 0; done < size;) {
      const length = Math.min(chunk.length, size - done)
      randomFillSync(chunk, 0, length)
      await file.write(chunk, 0, length)
      done += length
    }
  } finally {
    await file.close()
  }
}

// --- emulator ------------------------------------------------------------------------------

export function fileUrl(emu: Emulator, path: string): string {
  const entry = emu.tree().find((item) => item.path === path && item.type === 'file')
  if (!entry?.url) throw new Error(`the emulator has no file ${path}`)
  return entry.url
}

/** What changed in the emulator's counters between two snapshots (zero entries left out). */
export function statsDelta(before: EmulatorStats, after: EmulatorStats) {
  const calls: Record<string, number> = {}
  for (const [path, count] of Object.entries(after.calls)) {
    const delta = count - (before.calls[path] ?? 0)
    if (delta !== 0) calls[path] = delta
  }
  return {
    apiCalls: after.apiCalls - before.apiCalls,
    calls,
    upload: {
      requests: after.upload.requests - before.upload.requests,
      files: after.upload.files - before.upload.files,
      bytes: after.upload.bytes - before.upload.bytes,
    },
    endPl: after.endPl - before.endPl,
    download: {
      requests: after.download.requests - before.download.requests,
      bytes: after.download.bytes - before.download.bytes,
    },
    floods: after.floods.total - before.floods.total,
  }
}

// --- the HTTP baseline client --------------------------------------------------------------

/**
 * Run probe.js in its own process: the plain HTTP client must not share this process's event
 * loop with the emulator it measures, just as the daemon does not.
 */
export async function probe<T>(emu: Emulator, args: string[]): Promise<T> {
  const result = await sh([process.execPath, PROBE, ...args].map(q).join(' '), { env: { ...process.env, FICHFS_API_KEY: emu.apiKey } })
  if (result.code !== 0) throw new Error(`probe ${args[0]} failed (${result.code}): ${result.stderr.slice(-2000)}`)
  return JSON.parse(result.stdout) as T
}

// --- the mount daemon ----------------------------------------------------------------------

export interface Rss {
  /** VmHWM: the process's peak resident set so far (a lifetime peak, never goes down). */
  peakMiB: number
  /** VmRSS now. */
  nowMiB: number
}

export function rssOf(pid: number): Rss | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN)
    return { peakMiB: round(kib('VmHWM') / 1024, 1), nowMiB: round(kib('VmRSS') / 1024, 1) }
  } catch {
    return null
  }
}

/**
 * How long a fresh mount is left alone before its idle RSS is read. Right after the mount the
 * startup's young generation and freed heap pages are still resident; V8's memory reducer
 * returns them about 8 s after the last collection, and fichfs's idle settle (settle.ts) checks
 * every 10 s. An idle mount's footprint is the one after that, for as long as it stays idle.
 */
export const IDLE_REST_MS = 12_000

/** A fresh daemon's RSS at the mount and after IDLE_REST_MS of doing nothing (MiB). */
export async function idleRss(daemon: Daemon): Promise<{ atMount: number | undefined; rested: number | undefined }> {
  const atMount = daemon.rss()?.nowMiB
  await sleep(IDLE_REST_MS)
  return { atMount, rested: daemon.rss()?.nowMiB }
}

/** CPU time (user + system) a process has used so far, in ms; /proc/PID/stat counts in 1/100 s. */
/** after - before, or null when either reading failed. */
export const cpuDelta = (before: number | null, after: number | null) => (before !== null && after !== null ? after - before : null)

export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

export interface Daemon {
  pid: number
  mountpoint: string
  rss(): Rss | null
  cpuMs(): number | null
  /** `{cmd:'status'}` on the mount's control socket. */
  status(): Promise<DaemonStatus>
  /** Poll the control socket until no upload is pending; resolves with the wait in ms. */
  waitUploads(timeoutMs: number): Promise<{ ms: number; status: DaemonStatus }>
  /** The daemon's log lines at warn level and above (pino JSON), message and count. */
  warnings(): Array<{ msg: string; count: number }>
  logTail(lines: number): string
  /** SIGTERM, wait, then make sure nothing stays mounted. Idempotent. */
  stop(): Promise<{ code: number | null; signal: string | null; ms: number }>
}

export interface DaemonStatus {
  uploads: { pending: number; uploading: number; failed: number; bytesPending: number; bytesSent: number; failures: Array<{ path: string; error: string }> }
  [key: string]: unknown
}

export interface DaemonOptions {
  root: string
  label: string
  timeScale: number
  extraArgs?: string[]
}

export async function startDaemon(emu: Emulator, cleanup: Cleanup, options: DaemonOptions): Promise<Daemon> {
  if (!existsSync(join(dirname(dirname(BIN)), 'dist', 'cli', 'index.js'))) throw new Error(`dist/ is missing beside ${BIN}: run \`npm run build\` first`)
  const mountpoint = join(options.root, `mnt-${options.label}`)
  const cacheDir = join(options.root, `cache-${options.label}`)
  await mkdir(mountpoint, { recursive: true })
  // Resolved before mounting: afterwards realpath would go through the mount.
  const socket = socketPathFor(mountpoint)
  const args = [
    BIN, 'mount', mountpoint, '--endpoint', emu.apiBase, '--cache-dir', cacheDir,
    '--time-scale', String(options.timeScale), '-v', ...(options.extraArgs ?? []),
  ]
  progress(`mounting ${options.label}: fichfs ${args.slice(1).join(' ')}`)
  // Node flags for the daemon only, e.g. FICHFS_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
  // First the Node flags of BIN's own shebang (launcher.ts): the daemon runs as the binary would,
  // the baseline's (FICHFS_BENCH_BIN) with its own.
  const nodeArgs = [...nodeFlagsOf(BIN), ...(process.env.FICHFS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)]
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], {
    env: { ...process.env, FICHFS_API_KEY: emu.apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<void>((done) => child.on('exit', () => done()))
  let stopping: Promise<{ code: number | null; signal: string | null; ms: number }> | undefined

  const stop = () => {
    stopping ??= (async () => {
      const t0 = performance.now()
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        let timer: NodeJS.Timeout | undefined
        const outcome = await Promise.race([
          exited.then(() => 'exited'),
          new Promise<string>((done) => (timer = setTimeout(() => done('timeout'), 120_000))),
        ])
        clearTimeout(timer)
        if (outcome === 'timeout') {
          progress(`${options.label}: the daemon did not stop within 120 s, killing it`)
          child.kill('SIGKILL')
          await exited
        }
      }
      await unmountLeftover(mountpoint)
      return { code: child.exitCode, signal: child.signalCode, ms: round(performance.now() - t0) }
    })()
    return stopping
  }
  cleanup.add(`stop daemon ${options.label}`, () => {
    if (cleanup.failed && !stopping) progress(`${options.label}: last lines of the daemon's log:\n${output.split('\n').slice(-40).join('\n')}`)
    return stop()
  })

  const t0 = performance.now()
  while (!output.includes('is mounted')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`fichfs mount exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`)
    if (performance.now() - t0 > 60_000) throw new Error(`fichfs mount did not come up within 60 s:\n${output.slice(-3000)}`)
    await sleep(25)
  }
  const pid = child.pid as number

  const status = async () => {
    const answer = await requestControl(socket, { cmd: 'status' }, undefined, 10_000)
    if (answer.ok !== true) throw new Error(`status failed: ${String(answer.error)}`)
    return answer.status as DaemonStatus
  }

  return {
    pid,
    mountpoint,
    rss: () => rssOf(pid),
    cpuMs: () => cpuMsOf(pid),
    status,
    waitUploads: async (timeoutMs) => {
      const t1 = performance.now()
      let lastReport = 0
      for (;;) {
        const current = await status()
        const uploads = current.uploads
        if (uploads.pending === 0 && uploads.uploading === 0) return { ms: round(performance.now() - t1), status: current }
        if (performance.now() - t1 > timeoutMs) throw new Error(`uploads still pending after ${timeoutMs} ms: ${JSON.stringify(uploads)}`)
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now()
          progress(`${options.label}: ${uploads.pending} upload(s) pending, ${uploads.uploading} uploading, ${(uploads.bytesSent / MIB).toFixed(0)} MiB sent, ${uploads.failed} failed`)
        }
        await sleep(100)
      }
    },
    warnings: () => {
      const counts = new Map<string, number>()
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue
        try {
          const record = JSON.parse(line) as { level?: number; msg?: string }
          if ((record.level ?? 0) < 40) continue
          const msg = record.msg ?? line.slice(0, 200)
          counts.set(msg, (counts.get(msg) ?? 0) + 1)
        } catch {
          // Not a log record.
        }
      }
      return [...counts].map(([msg, count]) => ({ msg, count }))
    },
    logTail: (lines) => output.split('\n').slice(-lines).join('\n'),
    stop,
  }
}

function isMounted(mountpoint: string): boolean {
  const escaped = mountpoint.replace(/ /g, '\\040')
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === escaped)
}

/** A daemon that died or was killed leaves a stale mount: abort its connection, detach it. */
async function unmountLeftover(mountpoint: string): Promise<void> {
  if (!isMounted(mountpoint)) return
  try {
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((entry) => entry.split(' ')[4] === mountpoint.replace(/ /g, '\\040'))
    const minor = line?.split(' ')[2]?.split(':')[1]
    const connections = '/sys/fs/fuse/connections'
    if (minor && existsSync(connections) && readdirSync(connections).length > 0) {
      const abort = join(connections, minor, 'abort')
      if (existsSync(abort)) writeFileSync(abort, '1')
    }
  } catch {
    // Best effort: the lazy unmount below is what matters.
  }
  // An argv, no shell (a mountpoint may hold any character); never blocking this process,
  // which serves the emulator.
  const run = (file: string, args: string[]) => new Promise<number | null>((done) => {
    const child = spawn(file, args, { stdio: 'ignore' })
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.on('error', () => done(127))
    child.on('close', (code) => {
      clearTimeout(timer)
      done(code)
    })
  })
  if ((await run('fusermount', ['-uz', '--', mountpoint])) !== 0) await run('umount', ['-l', '--', mountpoint])
}

/** The runtime dir of control sockets, private to this run. */
export function isolateRuntimeDir(root: string): void {
  process.env.FICHFS_RUNTIME_DIR = resolve(root, 'run')
  process.env.FICHFS_CONFIG_DIR = resolve(root, 'config')
}

// --- the binding's ceiling -------------------------------------------------------------------

export interface CeilingOptions {
  root: string
  label: string
  /** Serve /big.bin of this many bytes. */
  fileSize?: number
  /** Serve folders x files of 1 KiB (/dNN/fNNNN.bin). */
  folders?: number
  files?: number
  /** Extra ceiling-fs flags, e.g. ['--entry-timeout', '10'] to match the mount's kernel options. */
  extraArgs?: string[]
}

export interface Ceiling {
  pid: number
  mountpoint: string
  cpuMs(): number | null
  stop(): Promise<void>
}

/** scripts/bench/ceiling-fs.ts in a child process (never in this one: it would serve its own reads). */
export async function startCeiling(cleanup: Cleanup, options: CeilingOptions): Promise<Ceiling> {
  const mountpoint = join(options.root, `mnt-${options.label}`)
  await mkdir(mountpoint, { recursive: true })
  const args = [join(import.meta.dirname, 'ceiling-fs.js'), mountpoint]
  if (options.fileSize) args.push('--file-size', String(options.fileSize))
  if (options.folders) args.push('--folders', String(options.folders), '--files', String(options.files ?? 0))
  args.push(...(options.extraArgs ?? []))
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<void>((done) => child.on('exit', () => done()))
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        let timer: NodeJS.Timeout | undefined
        const outcome = await Promise.race([exited.then(() => 'exited'), new Promise<string>((done) => (timer = setTimeout(() => done('timeout'), 10_000)))])
        clearTimeout(timer)
        if (outcome === 'timeout') {
          child.kill('SIGKILL')
          await exited
        }
      }
      await unmountLeftover(mountpoint)
    })()
    return stopping
  }
  cleanup.add(`stop ceiling ${options.label}`, stop)
  const t0 = performance.now()
  while (!output.includes('ceiling mounted')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ceiling-fs exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-2000)}`)
    if (performance.now() - t0 > 30_000) throw new Error(`ceiling-fs did not come up within 30 s:\n${output.slice(-2000)}`)
    await sleep(25)
  }
  // The kernel answers shortly after libfuse's init.
  while (!isMounted(mountpoint)) await sleep(10)
  const pid = child.pid as number
  return { pid, mountpoint, cpuMs: () => cpuMsOf(pid), stop }
}
