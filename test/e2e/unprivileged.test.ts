/**
 * A normal user, as on a desktop: a throwaway account (useradd) with its own XDG config, cache
 * and runtime dirs runs `fichfs login`, `fichfs mount`, writes and reads through the mount, sees
 * its files as its own, asks `fichfs status`, and unmounts with `fichfs unmount` (fusermount,
 * no root). Other users, root included, cannot look into the mount (no --allow-other).
 *
 * It needs what a desktop has: /dev/fuse usable by everyone (mode 0666) and a setuid
 * fusermount. Where they are missing (or when not run as root, which creating a user needs) the
 * test is skipped and says why. .ci/run opens /dev/fuse as desktops have it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { BIN, cleanupMount, E2E_PREFIX, isMounted, removeDir, run, sh, tempDir, type ShResult } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

const FUSERMOUNT = ['/usr/bin/fusermount', '/bin/fusermount'].find((path) => existsSync(path))
/** useradd, userdel and mount live in sbin, which a root PATH may lack. */
const ADMIN = { env: { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` } }

/** Why this machine cannot run the test (undefined: it can). */
function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root, so no throwaway user can be created'
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing'
  const mode = statSync('/dev/fuse').mode & 0o777
  if ((mode & 0o006) !== 0o006) return `/dev/fuse is mode 0${mode.toString(8)}, not usable by other users (desktops have 0666; .ci/run sets it)`
  if (!FUSERMOUNT || (statSync(FUSERMOUNT).mode & 0o4000) === 0) return 'fusermount is missing or not setuid root'
  return undefined
}

const skipReason = missingPrerequisite()
if (skipReason) process.stderr.write(`test/e2e/unprivileged.test.ts: skipped: ${skipReason}\n`)

describe.skipIf(skipReason !== undefined)(`an unprivileged user${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const user = `fichfs-e2e-${process.pid}`
  const home = join(tmpdir(), `${E2E_PREFIX}home-${process.pid}`)
  const runtime = join(tmpdir(), `${E2E_PREFIX}xdg-run-${process.pid}`)
  const mountpoint = join(home, '1fichier')
  let uid = -1
  let gid = -1
  let created = false
  let bin = BIN
  let repoBind: string | undefined
  let seed: string
  let emu: Emulator
  let daemon: ChildProcess | undefined
  let daemonOutput = ''

  /** The user's environment: its home and XDG dirs, nothing of root's (no key, no cache dir). */
  function userEnv(): NodeJS.ProcessEnv {
    return {
      HOME: home, USER: user, LOGNAME: user, PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8',
      XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), XDG_STATE_HOME: join(home, '.local/state'),
      XDG_RUNTIME_DIR: runtime,
    }
  }

  /** A shell command run as the user (setuid/setgid by Node, supplementary groups dropped). */
  function asUser(command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<ShResult> {
    return new Promise((done) => {
      const child = spawn('bash', ['-c', command], { uid, gid, env: userEnv(), cwd: home, stdio: ['pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
      child.on('close', (code) => {
        clearTimeout(timer)
        done({ code, stdout, stderr })
      })
      child.stdin.on('error', () => undefined)
      child.stdin.end(options.input ?? '')
    })
  }

  const fichfs = (args: string) => `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} ${args}`

  beforeAll(async () => {
    seed = await tempDir('unpriv-seed')
    await writeTree(seed, { files: { 'hello.txt': 'hello from 1fichier\n' } })
    emu = await startEmulator({ dataDir: await tempDir('unpriv-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    await run(`useradd --create-home --home-dir ${JSON.stringify(home)} --shell /bin/bash ${user}`, ADMIN)
    created = true
    uid = Number((await run(`id -u ${user}`)).trim())
    gid = Number((await run(`id -g ${user}`)).trim())
    await mkdir(runtime, { mode: 0o700 })
    await run(`chown ${uid}:${gid} ${JSON.stringify(runtime)}`)
    // The checkout belongs to root; its parents (say /root) may be closed to others. Then the
    // user gets a read-only view of it through a bind mount.
    if ((await asUser(fichfs('--version'))).code !== 0) {
      repoBind = await tempDir('unpriv-repo')
      await run(`chmod 755 ${repoBind} && mount --bind ${JSON.stringify(resolve(dirname(BIN), '..'))} ${repoBind} && mount -o remount,bind,ro ${repoBind}`, ADMIN)
      bin = join(repoBind, 'bin', 'fichfs.js')
      const again = await asUser(fichfs('--version'))
      if (again.code !== 0) throw new Error(`the user cannot run fichfs even through a bind mount:\n${again.stderr}`)
    }
  })

  afterAll(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL')
      await new Promise((done) => daemon?.once('exit', done))
    }
    await cleanupMount(mountpoint)
    if (created) await sh(`userdel --remove ${user}`, ADMIN)
    await rm(home, { recursive: true, force: true })
    await rm(runtime, { recursive: true, force: true })
    if (repoBind) await sh(`umount ${repoBind}`, ADMIN)
    const floods = emu ? emu.stats().floods : undefined
    if (emu) await emu.close()
    for (const dir of [seed, emu?.dataDir, repoBind].filter((dir): dir is string => Boolean(dir))) await removeDir(dir)
    expect(floods?.total ?? 0).toBe(0)
  })

  it('logs in, mounts, writes and reads as itself, checks status, and unmounts without root', async () => {
    emu.resetStats()
    const login = await asUser(fichfs(`login --stdin --endpoint ${emu.apiBase} --time-scale 10`), { input: `${emu.apiKey}\n` })
    expect(login.code, login.stderr).toBe(0)
    const keyFile = join(home, '.config/fichfs/api-key')
    expect(statSync(keyFile).uid).toBe(uid)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)

    await asUser(`mkdir -p ${JSON.stringify(mountpoint)}`)
    daemon = spawn(process.execPath, [bin, 'mount', mountpoint, '--endpoint', emu.apiBase, '--time-scale', '10', '--write-back', '1h', '-v'], {
      uid, gid, env: userEnv(), cwd: home, stdio: ['ignore', 'pipe', 'pipe'],
    })
    daemon.stdout?.setEncoding('utf8').on('data', (chunk: string) => (daemonOutput += chunk))
    daemon.stderr?.setEncoding('utf8').on('data', (chunk: string) => (daemonOutput += chunk))
    const exited = new Promise<number | null>((done) => daemon?.once('exit', (code) => done(code)))
    const started = Date.now()
    while (!daemonOutput.includes('is mounted')) {
      if (daemon.exitCode !== null) throw new Error(`fichfs mount exited (${daemon.exitCode}):\n${daemonOutput}`)
      if (Date.now() - started > 30_000) throw new Error(`fichfs mount did not come up:\n${daemonOutput}`)
      await new Promise((done) => setTimeout(done, 25))
    }
    const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((entry) => entry.split(' ')[1] === mountpoint) ?? ''
    expect(line).toMatch(new RegExp(`fuse\\.fichfs .*user_id=${uid},group_id=${gid}`))

    const io = await asUser(`cd ${JSON.stringify(mountpoint)} && echo "written by ${user}" > note.txt && cat note.txt hello.txt && stat -c '%U %G %a %n' . note.txt hello.txt`)
    expect(io.code, io.stderr).toBe(0)
    expect(io.stdout).toBe(`written by ${user}\nhello from 1fichier\n${user} ${user} 755 .\n${user} ${user} 644 note.txt\n${user} ${user} 644 hello.txt\n`)
    // Without --allow-other, nobody else looks in, root included.
    expect((await sh(`stat ${JSON.stringify(join(mountpoint, 'hello.txt'))}`)).stderr).toMatch(/Permission denied/)

    const status = await asUser(fichfs(`status ${JSON.stringify(mountpoint)} --json`))
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ mountpoint, uploads: { pending: 1, failed: 0 } })
    // Its control socket is under its own runtime dir.
    expect(existsSync(join(runtime, 'fichfs'))).toBe(true)
    expect(statSync(join(runtime, 'fichfs')).uid).toBe(uid)

    const unmount = await asUser(fichfs(`unmount ${JSON.stringify(mountpoint)}`), { timeoutMs: 90_000 })
    // The daemon's own log says why, should the unmount ever fail (it once went silent for 60 s in CI).
    expect(unmount.code, `${unmount.stderr}\n--- daemon log\n${daemonOutput.split('\n').slice(-60).join('\n')}`).toBe(0)
    expect(unmount.stdout).toContain(`fichfs: unmounted ${mountpoint}`)
    expect(await exited).toBe(0)
    expect(isMounted(mountpoint)).toBe(false)
    expect(emu.tree().find((entry) => entry.path === '/note.txt')?.size).toBe(`written by ${user}\n`.length)

    // Everything it wrote lives under its own XDG dirs, private to it.
    const cache = join(home, '.cache/fichfs')
    expect(statSync(cache).uid).toBe(uid)
    for (const entry of (await run(`find ${JSON.stringify(cache)} ${JSON.stringify(join(home, '.config/fichfs'))} ! -user ${user}`)).trim().split('\n').filter(Boolean)) {
      throw new Error(`not owned by ${user}: ${entry}`)
    }
    // login (user/info), the mount's root listing, reading hello.txt, one upload: nothing else.
    expect(emu.stats().calls).toEqual({ 'user/info.cgi': 1, 'folder/ls.cgi': 1, 'download/get_token.cgi': 1, 'upload/get_upload_server.cgi': 1 })
    expectNoFloods(emu)
  })
})
