/**
 * `fichfs mount <mountpoint>`: runs in the foreground until SIGINT/SIGTERM or `fichfs unmount`;
 * `--daemon` detaches and returns once the mount is ready.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { childEnv, KEY_VARIABLE } from '../../child-env.js'
import { FichfsError } from '../../errors.js'
import type { UploadStatus } from '../../fs/uploader.js'
import { createLogger, type Logger } from '../../log.js'
import { defaultCacheDir, parseDuration, parseEndpoint, parseSize, paths, resolveApiKey } from '../config.js'
import { nodeFlagsOf } from '../launcher.js'
import { startMount, type MountService } from '../mount-service.js'
import { settleMemory, settleWhenIdle } from '../settle.js'
import { shellQuote } from '../format.js'
import { uploadProgress } from '../progress.js'

export interface MountArgs {
  mountpoint: string
  endpoint?: string
  'api-key-file'?: string
  'cache-dir'?: string
  'read-only': boolean
  'allow-other': boolean
  daemon: boolean
  'dir-cache-time': string
  'write-back': string
  'upload-attempts': number
  trash: boolean
  'trash-retention': string
  'memory-cache': string
  'disk-cache': string
  connections: number
  'time-scale': number
  'log-file'?: string
  verbose: number
  'debug-fuse': boolean
}

export function mountOptions<T>(yargs: Argv<T>) {
  return yargs
    .positional('mountpoint', { type: 'string', demandOption: true, describe: 'Empty directory to mount the account on' })
    .option('endpoint', { type: 'string', describe: 'API base URL (default: https://api.1fichier.com/v1; the emulator prints its own)', group: 'Account:' })
    .option('api-key-file', { type: 'string', describe: 'File holding the API key (mode 0600). Or set FICHFS_API_KEY, or run `fichfs login`', group: 'Account:' })
    .option('read-only', { type: 'boolean', default: false, describe: 'Refuse every change (EROFS)', group: 'Mount:' })
    .option('allow-other', { type: 'boolean', default: false, describe: 'Let other users see the mount (needs user_allow_other in /etc/fuse.conf)', group: 'Mount:' })
    .option('daemon', { type: 'boolean', default: false, describe: 'Detach once mounted; logs go to --log-file', group: 'Mount:' })
    .option('cache-dir', { type: 'string', describe: `Metadata, spool and block cache (default ${defaultCacheDir()})`, group: 'Caching:' })
    .option('dir-cache-time', { type: 'string', default: '5m', describe: 'How long a folder listing is trusted (1fichier allows one listing per folder per 30 s)', group: 'Caching:' })
    .option('memory-cache', { type: 'string', default: '40M', describe: 'Memory for file blocks (read-ahead and re-reads)', group: 'Caching:' })
    .option('disk-cache', { type: 'string', default: '1G', describe: 'Disk for file heads, tails and random reads kept across mounts (0: off)', group: 'Caching:' })
    .option('connections', { type: 'number', default: 12, describe: 'Download connections open at once, all files together (1-16; one file uses 2, up to 8 on a slow link)', group: 'Caching:' })
    .option('write-back', { type: 'string', default: '2s', describe: 'Upload a closed file once its folder has been quiet this long', group: 'Writing:' })
    .option('upload-attempts', { type: 'number', default: 8, describe: 'Attempts per file before it is marked failed (it stays local and retries at the next mount)', group: 'Writing:' })
    .option('trash', { type: 'boolean', default: true, describe: 'rm, rmdir and overwrites move things to the account\'s trash folder (see `fichfs trash`); --no-trash deletes for good', group: 'Trash:' })
    .option('trash-retention', { type: 'string', default: '30d', describe: 'Delete trash entries for good once this old (0: keep until `fichfs trash empty`)', group: 'Trash:' })
    .option('log-file', { type: 'string', describe: 'Write logs here (default: stderr; a file under the state dir with --daemon)', group: 'Logging:' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'More logs (-v info, -vv debug)', group: 'Logging:' })
    .option('time-scale', { type: 'number', default: 1, hidden: true, describe: 'Divide rate-limit timings (tests against a time-scaled emulator)' })
    .option('debug-fuse', { type: 'boolean', default: false, hidden: true })
}

export const mountCommand: CommandModule<object, MountArgs> = {
  command: 'mount <mountpoint>',
  describe: 'Mount the 1fichier account on a directory',
  builder: (yargs) => mountOptions(yargs) as unknown as Argv<MountArgs>,
  handler: async (args) => {
    if (args.endpoint !== undefined) parseEndpoint(args.endpoint)
    if (args.daemon) return detach(args)
    const key = resolveApiKey({ apiKeyFile: args['api-key-file'] })
    // Read once; no child of the daemon (fusermount, ...) inherits it.
    delete process.env[KEY_VARIABLE]
    const log = makeLogger(args)
    const service = await startMount({
      mountpoint: args.mountpoint,
      apiKey: key.key,
      endpoint: args.endpoint,
      cacheDir: args['cache-dir'] ?? defaultCacheDir(),
      readOnly: args['read-only'],
      allowOther: args['allow-other'],
      dirCacheTimeMs: parseDuration(args['dir-cache-time']),
      writeBackMs: parseDuration(args['write-back']),
      uploadAttempts: Math.max(1, args['upload-attempts']),
      trash: args.trash,
      trashRetentionMs: parseDuration(args['trash-retention']),
      memoryCacheBytes: parseSize(args['memory-cache']),
      diskCacheBytes: parseSize(args['disk-cache']),
      downloadConnections: checkConnections(args.connections),
      timeScale: args['time-scale'] > 0 ? args['time-scale'] : 1,
      debugFuse: args['debug-fuse'],
    }, log)
    await serveUntilStopped(service)
    // After an unmount from outside, fuse-native's native loop can keep the process alive.
    process.exit(0)
  },
}

export function makeLogger(args: { verbose: number; 'log-file'?: string; daemon?: boolean }): Logger {
  const level = args.verbose >= 2 ? 'debug' : args.verbose === 1 ? 'info' : (process.env.FICHFS_LOG_LEVEL ?? 'warn')
  return createLogger({ level, file: args['log-file'] })
}

/** Foreground life: tell a waiting parent we are up, then stop cleanly on signals. */
export async function serveUntilStopped(service: MountService): Promise<void> {
  // The startup's garbage goes before anyone looks (settle.ts), and again after each busy spell.
  settleMemory()
  const stopSettling = settleWhenIdle()
  const giveUp = new AbortController()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals === 1) {
      process.stderr.write(`fichfs: ${signal}: finishing pending uploads, then unmounting (send it again to stop waiting).\n`)
      void stopWithProgress(service, giveUp.signal)
    } else {
      process.stderr.write('fichfs: not waiting any longer; pending uploads stay queued for the next mount.\n')
      giveUp.abort()
    }
  }
  // Before the announcement: a supervisor that stops the mount the moment it reads "is
  // mounted" must reach this handler, not SIGTERM's default action (which killed it, leaving
  // the mountpoint for the cleanup, in about 1 start in 50 under load).
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', () => undefined)
  process.stderr.write(`fichfs: ${service.mountpoint} is mounted. Stop with Ctrl-C or \`fichfs unmount ${shellQuote(service.mountpoint)}\`.\n`)
  if (process.send) {
    process.send({ ready: true, mountpoint: service.mountpoint })
    process.disconnect?.()
  }
  await service.stopped
  stopSettling()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}

async function stopWithProgress(service: MountService, signal: AbortSignal): Promise<void> {
  const progress = uploadProgress('fichfs: uploading before unmount')
  const final = await service.stop({ wait: true, signal, onProgress: (status) => progress.update(status) })
  progress.finish(final)
  reportLeftovers(final)
}

export function reportLeftovers(status: UploadStatus): void {
  if (status.pending > 0) process.stderr.write(`fichfs: ${status.pending} file(s) not uploaded yet; they are kept and will upload at the next mount.\n`)
  for (const failure of status.failures) process.stderr.write(`fichfs: upload failed for ${failure.path}: ${failure.error} (the local copy is kept)\n`)
}

/** --daemon: start the same command detached, wait until it is mounted (or fails), return. */
async function detach(args: MountArgs): Promise<void> {
  // Resolve the key here too, so errors (no key, key file mode) show in this terminal.
  const key = resolveApiKey({ apiKeyFile: args['api-key-file'] })
  let logFile = args['log-file']
  if (!logFile) {
    mkdirSync(paths.log, { recursive: true, mode: 0o700 })
    logFile = join(paths.log, 'mount.log')
  }
  const out = openSync(logFile, 'a', 0o600)
  const argv = process.argv.slice(2).filter((arg) => arg !== '--daemon' && arg !== '--daemon=true')
  if (!args['log-file']) argv.push('--log-file', logFile)
  // The shebang's Node flags (launcher.ts), also when this process was started by another way.
  const flags = [...new Set([...nodeFlagsOf(), ...process.execArgv])]
  const child = spawn(process.execPath, [...flags, process.argv[1] as string, ...argv], {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    // A key from a file is read again by the daemon (the option is in argv); one from the
    // environment has no other way there.
    env: key.source === 'environment' ? { ...childEnv(), [KEY_VARIABLE]: key.key } : childEnv(),
  })
  const outcome = await new Promise<{ ready: boolean; error?: string }>((resolve) => {
    child.once('message', (message: { ready?: boolean; error?: string }) => resolve({ ready: message.ready === true, error: message.error }))
    child.once('exit', (code) => resolve({ ready: false, error: `the mount process exited (code ${code}); see ${logFile}` }))
  })
  if (!outcome.ready) throw new FichfsError('FICHFS_MOUNT', outcome.error ?? 'the mount did not start', { hint: `Details are in ${logFile}.` })
  child.disconnect?.()
  child.unref()
  process.stdout.write(`fichfs: mounted ${args.mountpoint} (pid ${child.pid}, log ${logFile})\n`)
}

/** 1..16: 16 is the HTTP client's own limit per host (more would only queue there). */
function checkConnections(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 16) {
    throw new FichfsError('FICHFS_BAD_OPTION', `--connections must be a whole number from 1 to 16, not ${String(value)}`)
  }
  return value
}
