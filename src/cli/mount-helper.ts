/**
 * `mount.fichfs`: the helper mount(8) runs for fichfs lines in /etc/fstab. It turns the mount
 * calling convention into `fichfs mount MOUNTPOINT --daemon ...` and returns once the mount is
 * up (or failed), as mount(8) expects.
 *
 *   mount.fichfs SOURCE MOUNTPOINT [-o opt[,opt...]] [-t type] [-f] [-n] [-s] [-v] [-N ns]
 *
 * It is reached either as /sbin/mount.fuse.fichfs (a symlink; fstab type `fuse.fichfs`) or
 * through mount.fuse (fstab type `fuse`, source `mount.fichfs#fichfs`). SOURCE is a label; the
 * whole account is mounted. fichfs settings ride in the options (`api_key_file=`,
 * `endpoint=`, ...), never the key itself: /etc/fstab is world-readable.
 */
import { spawn, spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fichfsCommand } from './launcher.js'


/** Options with a value, and the `fichfs mount` flag each becomes. */
const VALUE_OPTIONS: Record<string, string> = {
  endpoint: '--endpoint',
  api_key_file: '--api-key-file',
  cache_dir: '--cache-dir',
  dir_cache_time: '--dir-cache-time',
  write_back: '--write-back',
  trash_retention: '--trash-retention',
  memory_cache: '--memory-cache',
  disk_cache: '--disk-cache',
  connections: '--connections',
  log_file: '--log-file',
  time_scale: '--time-scale',
}

/** Options without a value that fichfs honours. */
const FLAG_OPTIONS: Record<string, string[]> = {
  ro: ['--read-only'],
  read_only: ['--read-only'],
  allow_other: ['--allow-other'],
  notrash: ['--no-trash'],
  no_trash: ['--no-trash'],
  verbose: ['-v'],
  debug: ['-vv'],
}

/**
 * fstab and generic mount options that concern mount(8), systemd or the kernel's defaults for
 * FUSE (nosuid, nodev are always on for FUSE): accepted and left alone.
 */
const IGNORED = new Set([
  'rw', 'defaults', 'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group', '_netdev', 'nofail',
  'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'atime', 'noatime', 'relatime', 'strictatime',
  'nodiratime', 'async', 'sync', 'dirsync', 'nonempty', 'default_permissions', 'loud', 'silent',
])

export interface HelperPlan {
  mountpoint: string
  args: string[]
  /** Run the mount as this user (the `setuid=` option, when mount(8) runs us as root). */
  runAs?: string
  fake: boolean
  verbose: boolean
  warnings: string[]
}

export class HelperUsageError extends Error {}

export function planMount(argv: string[]): HelperPlan {
  const positional: string[] = []
  const options: string[] = []
  let fake = false
  let verbose = false
  let sloppy = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-o') options.push(...splitOptions(argv[++i] ?? ''))
    else if (arg.startsWith('-o') && arg.length > 2) options.push(...splitOptions(arg.slice(2)))
    else if (arg === '-t' || arg === '-N') i++
    else if (arg === '-f') fake = true
    else if (arg === '-v') verbose = true
    else if (arg === '-s') sloppy = true
    else if (arg === '-n') continue
    else if (arg.startsWith('-')) throw new HelperUsageError(`unknown flag ${arg}`)
    else positional.push(arg)
  }
  if (positional.length !== 2) throw new HelperUsageError('expected SOURCE and MOUNTPOINT')
  const [source, mountpoint] = positional as [string, string]
  const sub = source.includes('#') ? source.slice(source.indexOf('#') + 1) : ''
  if (sub !== '' && sub !== '/') {
    throw new HelperUsageError(`fichfs mounts the whole account; "${source}" names a sub-folder (use "fichfs" as the source)`)
  }

  const args = ['mount', resolve(mountpoint), '--daemon']
  const warnings: string[] = []
  let runAs: string | undefined
  for (const option of options) {
    const eq = option.indexOf('=')
    const name = eq < 0 ? option : option.slice(0, eq)
    const value = eq < 0 ? undefined : option.slice(eq + 1)
    if (name === 'api_key' || name === 'key' || name === 'apikey') {
      throw new HelperUsageError('the API key cannot be a mount option (/etc/fstab is readable by everyone): use api_key_file=PATH (mode 0600)')
    }
    if (name === 'setuid' && value) runAs = value
    else if (VALUE_OPTIONS[name] && value !== undefined) args.push(VALUE_OPTIONS[name] as string, value)
    else if (FLAG_OPTIONS[name] && value === undefined) args.push(...(FLAG_OPTIONS[name] as string[]))
    else if (IGNORED.has(name) || name.startsWith('x-') || name === 'comment') continue
    else if (sloppy) warnings.push(`ignoring unknown option ${name}`)
    else throw new HelperUsageError(`unknown option ${option} (see docs/SYSTEMD.md; -s ignores unknown options)`)
  }
  return { mountpoint: resolve(mountpoint), args, runAs, fake, verbose, warnings }
}

function splitOptions(text: string): string[] {
  return text.split(',').map((part) => part.trim()).filter(Boolean)
}

/** The command that runs `fichfs mount`, as root or, with setuid=, as that user. */
export function commandFor(plan: HelperPlan): { file: string; args: string[] } {
  // The Node flags of bin/fichfs.js's shebang (launcher.ts): the daemon runs as if started directly.
  const [node, nodeArgs] = fichfsCommand(plan.args)
  const fichfs = [node, ...nodeArgs]
  if (!plan.runAs) return { file: fichfs[0] as string, args: fichfs.slice(1) }
  // runuser sets HOME, USER and the supplementary groups of the user, so the user's stored
  // key, cache and runtime dir are found as if the user had typed the command.
  return { file: 'runuser', args: ['-u', plan.runAs, '--', ...fichfs] }
}

async function main(argv: string[]): Promise<number> {
  let plan: HelperPlan
  try {
    plan = planMount(argv)
  } catch (error) {
    process.stderr.write(`mount.fichfs: ${(error as Error).message}\nusage: mount.fichfs SOURCE MOUNTPOINT [-o options]\n`)
    return 1
  }
  for (const warning of plan.warnings) process.stderr.write(`mount.fichfs: ${warning}\n`)
  const command = commandFor(plan)
  if (plan.verbose || plan.fake) process.stderr.write(`mount.fichfs: ${[command.file, ...command.args].join(' ')}\n`)
  if (plan.fake) return 0
  if (plan.runAs && spawnSync('id', ['-u', plan.runAs], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write(`mount.fichfs: no such user ${plan.runAs}\n`)
    return 1
  }
  // mount(8) runs helpers without PATH; runuser (and anything fichfs runs) needs one.
  const env = { ...process.env, PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }
  const child = spawn(command.file, command.args, { stdio: 'inherit', env })
  return new Promise((done) => {
    child.on('error', (error) => {
      process.stderr.write(`mount.fichfs: cannot run ${command.file}: ${error.message}\n`)
      done(1)
    })
    child.on('exit', (code) => done(code ?? 1))
  })
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`mount.fichfs: ${String(error)}\n`)
    process.exit(1)
  })
}
