/**
 * Running the real `fichfs` binary against an in-process emulator, with private config, cache
 * and runtime dirs (the user's own are never touched). Every run is recorded so a test can
 * check that the API key never shows in any output.
 */
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Emulator } from '../../src/emulator/index.js'
import { BIN, tempDir } from '../support/mount.js'

export interface CliDirs {
  root: string
  config: string
  cache: string
  runtime: string
}

export async function cliDirs(label: string): Promise<CliDirs> {
  const root = await tempDir(label)
  const dirs = { root, config: join(root, 'config'), cache: join(root, 'cache'), runtime: join(root, 'run') }
  await mkdir(dirs.runtime, { recursive: true, mode: 0o700 })
  return dirs
}

/** The environment of a command: our dirs, and no key unless the test gives one. */
export function cliEnv(dirs: CliDirs, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FICHFS_CONFIG_DIR: dirs.config, FICHFS_CACHE_DIR: dirs.cache, FICHFS_RUNTIME_DIR: dirs.runtime, ...extra }
  if (!('FICHFS_API_KEY' in extra)) delete env.FICHFS_API_KEY
  delete env.FICHFS_LOG_LEVEL
  return env
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Everything every command printed, for the key hunt. */
export const transcript: string[] = []

export function fichfs(args: string[], options: { env: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number; asUser?: number }): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const as = options.asUser === undefined ? {} : { uid: options.asUser, gid: options.asUser }
    const child = spawn(process.execPath, [BIN, ...args], { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], ...as })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
    child.on('close', (code) => {
      clearTimeout(timer)
      transcript.push(`$ fichfs ${args.join(' ')}\n${stdout}${stderr}`)
      resolvePromise({ code, stdout, stderr })
    })
  })
}

/** The account options every command takes, for this emulator. */
export function at(emu: Emulator, timeScale = 10): string[] {
  return ['--endpoint', emu.apiBase, '--time-scale', String(timeScale)]
}

/** Fail with the command's own words when it did not succeed. */
export function ok(result: CliResult): CliResult {
  if (result.code !== 0) throw new Error(`fichfs exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`)
  return result
}

/** Never print a key in test output: show where it was found instead. */
export function keyFreeReport(text: string, key: string): string {
  const at = text.indexOf(key)
  if (at < 0) return 'no key'
  return `key found at offset ${at}, in: ${text.slice(Math.max(0, at - 200), at).replace(/\s+/g, ' ')}[KEY]`
}
