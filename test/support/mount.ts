/**
 * Real mounts for end-to-end tests: the daemon runs as the real CLI in a child process (a
 * process serving a FUSE mount deadlocks if it touches the mount itself), over an emulator
 * running in the test process. Every mount gets its own temp dirs and is always taken down,
 * also on failure: SIGTERM, then SIGKILL, `fusermount -uz`, and an abort of the FUSE
 * connection if a request is stuck.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, inject } from 'vitest'
import { nodeFlagsOf } from '../../src/cli/launcher.js'
import type { Emulator } from '../../src/emulator/index.js'

export const BIN = resolve(import.meta.dirname, '../../bin/fichfs.js')
/** Set by test/global-setup.ts: this run's own prefix (its teardown clears only its mounts). */
export const E2E_PREFIX = inject('e2ePrefix')

export async function tempDir(label = 'tmp'): Promise<string> {
  return mkdtemp(join(tmpdir(), `${E2E_PREFIX}${label}-`))
}

export interface ShResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Run a shell command (never blocking this process), with a time limit. Tests build these
 * commands from their own temp paths (mkdtemp under the system temp dir, plain characters);
 * a path that may hold shell syntax goes through `exec` instead.
 */
export function sh(command: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<ShResult> {
  return exec('bash', ['-c', command], options)
}

/**
 * Run a program with an argv, no shell: for commands that take paths which may hold shell
 * syntax (`$(...)`, backticks, quotes, newlines). Never rejects; a missing program is code 127.
 */
export function exec(file: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<ShResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolvePromise({ code: 127, stdout, stderr: `${stderr}${error.message}` })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
    if (options.input !== undefined) {
      child.stdin?.on('error', () => undefined)
      child.stdin?.end(options.input)
    }
  })
}

/** Like sh, but fails the test on a non-zero exit (showing stderr). */
export async function run(command: string, options: Parameters<typeof sh>[1] = {}): Promise<string> {
  const result = await sh(command, options)
  if (result.code !== 0) throw new Error(`command failed (${result.code}): ${command}\n${result.stderr.slice(-2000)}`)
  return result.stdout
}

/** A path as /proc/mounts and /proc/self/mountinfo write it (space, tab, newline, backslash in octal). */
export function escapeMountField(path: string): string {
  return path.replace(/[\\ \t\n]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`)
}

export function isMounted(mountpoint: string): boolean {
  const escaped = escapeMountField(mountpoint)
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === escaped)
}

export interface MountOptions {
  cacheDir: string
  mountpoint?: string
  args?: string[]
  env?: NodeJS.ProcessEnv
  timeScale?: number
}

export interface TestMount {
  mountpoint: string
  cacheDir: string
  /** Where its control socket is, when the test gave it its own FICHFS_RUNTIME_DIR. */
  runtimeDir?: string
  process: ChildProcess
  /** Everything the daemon wrote to stdout and stderr. */
  output(): string
  /** Resolves with the exit code once the daemon has exited. */
  exited: Promise<number | null>
  /** The exit code, or an error carrying the daemon's output if it has not exited in time. */
  exitWithin(timeoutMs: number): Promise<number | null>
  /** SIGTERM (waits for uploads), then make sure nothing is left mounted. */
  stop(timeoutMs?: number): Promise<number | null>
  /** kill -9: leaves a stale mount behind, as a crash would. */
  kill9(): Promise<void>
}

const live = new Set<TestMount>()

export async function mountFichfs(emu: Emulator, options: MountOptions): Promise<TestMount> {
  const mountpoint = options.mountpoint ?? (await tempDir('mnt'))
  await mkdir(mountpoint, { recursive: true }).catch(() => undefined)
  const args = [
    BIN, 'mount', mountpoint, '--endpoint', emu.apiBase, '--cache-dir', options.cacheDir,
    '--time-scale', String(options.timeScale ?? 10), '-v', ...(options.args ?? []),
  ]
  // The Node flags of bin/fichfs.js's shebang, as the binary itself would run (launcher.ts).
  const child = spawn(process.execPath, [...nodeFlagsOf(BIN), ...args], {
    env: { ...process.env, FICHFS_API_KEY: emu.apiKey, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)))
  const mount: TestMount = {
    mountpoint,
    cacheDir: options.cacheDir,
    runtimeDir: options.env?.FICHFS_RUNTIME_DIR,
    process: child,
    output: () => output,
    exited,
    exitWithin: async (timeoutMs) => {
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))])
      if (code === 'timeout') throw new Error(`fichfs did not exit within ${timeoutMs} ms; its output:\n${output.slice(-6000)}`)
      return code
    },
    stop: async (timeoutMs = 60_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))])
        if (code === 'timeout') {
          child.kill('SIGKILL')
          await exited
        }
      }
      await cleanupMount(mountpoint)
      live.delete(mount)
      return child.exitCode
    },
    kill9: async () => {
      child.kill('SIGKILL')
      await exited
      live.delete(mount)
    },
  }
  live.add(mount)
  const started = Date.now()
  while (!output.includes('is mounted')) {
    if (child.exitCode !== null) throw new Error(`fichfs mount exited (${child.exitCode}):\n${output}`)
    if (Date.now() - started > 30_000) {
      await mount.stop(1000)
      throw new Error(`fichfs mount did not come up:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return mount
}

/** Take a mountpoint down whatever state it is in (stuck requests included). */
export async function cleanupMount(mountpoint: string): Promise<void> {
  if (!isMounted(mountpoint)) return
  abortFuseConnection(mountpoint)
  // An argv, never a shell: test mountpoints may hold `$(...)` on purpose.
  const lazy = await exec('fusermount', ['-uz', '--', mountpoint], { timeoutMs: 10_000 })
  if (lazy.code !== 0) await exec('umount', ['-l', '--', mountpoint], { timeoutMs: 10_000 })
}

/** Abort the kernel side of a FUSE mount so that nothing blocked on it stays blocked. */
function abortFuseConnection(mountpoint: string): void {
  try {
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((entry) => entry.split(' ')[4] === escapeMountField(mountpoint))
    const device = line?.split(' ')[2]
    const minor = device?.split(':')[1]
    if (!minor) return
    const connections = '/sys/fs/fuse/connections'
    if (!existsSync(connections) || readdirSync(connections).length === 0) return
    const abort = join(connections, minor, 'abort')
    if (existsSync(abort)) writeFileSync(abort, '1')
  } catch {
    // Best effort: fusermount -uz follows.
  }
}

/** Every mount a test forgot, taken down (afterAll safety net). */
export async function stopAllMounts(): Promise<void> {
  for (const mount of [...live]) await mount.stop(30_000)
}

export async function removeDir(path: string): Promise<void> {
  if (isMounted(path)) await cleanupMount(path)
  await rm(path, { recursive: true, force: true })
}

export function fileSize(path: string): number {
  return statSync(path).size
}

/** Wait until the mount's upload queue is empty, replaced versions deleted (asks its control socket). */
export async function waitForUploads(mount: TestMount, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const { requestControl, socketPathFor } = await import('../../src/cli/control.js')
  const started = Date.now()
  for (;;) {
    const answer = await requestControl(socketPathFor(mount.mountpoint, mount.runtimeDir), { cmd: 'status' })
    const uploads = (answer.status as { uploads: { pending: number; failed: number; deletesPending: number } }).uploads
    if (uploads.pending === 0 && uploads.deletesPending === 0) return answer.status as Record<string, unknown>
    if (Date.now() - started > timeoutMs) throw new Error(`uploads still pending after ${timeoutMs} ms: ${JSON.stringify(uploads)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Temp dirs for one test file: every mount is stopped after each test and every dir removed
 * after the file, also when a test failed. Call once, at the top of the file.
 */
export function tempDirsForFile(): (label: string) => Promise<string> {
  const dirs: string[] = []
  afterEach(async () => {
    await stopAllMounts()
  })
  afterAll(async () => {
    for (const path of dirs) await removeDir(path)
  })
  return async (label) => {
    const path = await tempDir(label)
    dirs.push(path)
    return path
  }
}
