/**
 * contrib/: the systemd user unit's ExecStart/ExecStop run by hand (no systemd runs here) and
 * checked by `systemd-analyze verify` when it exists; the mount helper run for real by mount(8)
 * from an fstab line (`mount -T`) and from the command line, against the emulator.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeFlagsOf } from '../../src/cli/launcher.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { BIN, cleanupMount, isMounted, removeDir, run, sh, tempDir } from '../support/mount.js'
import { writeTree } from '../support/tree.js'
import { fichfs, keyFreeReport, ok } from './helpers.js'

const UNIT = resolve(import.meta.dirname, '../../contrib/systemd/fichfs.service')
const HELPER = resolve(import.meta.dirname, '../../bin/mount.fichfs')
const isRoot = process.getuid?.() === 0
const canMount = isRoot && existsSync('/sbin/mount.fuse') && existsSync('/dev/fuse')

function unitLine(name: string): string {
  const line = readFileSync(UNIT, 'utf8').split('\n').find((entry) => entry.startsWith(`${name}=`))
  if (!line) throw new Error(`no ${name}= in the unit`)
  return line.slice(name.length + 1)
}

/** A unit command line as systemd would run it: %h expanded, `fichfs` the binary under test. */
function unitCommand(name: string, home: string): string[] {
  const words = unitLine(name).replace(/%h/g, home).split(/\s+/)
  expect(words[0]).toBe('fichfs')
  return [BIN, ...words.slice(1)]
}

describe('systemd user unit and fstab helper', () => {
  let seed: string
  let emu: Emulator
  let root: string
  const mountpoints: string[] = []
  const services: ChildProcess[] = []

  beforeAll(async () => {
    seed = await tempDir('contrib-seed')
    await writeTree(seed, { files: { 'hello.txt': 'hello from 1fichier\n' } })
    emu = await startEmulator({ dataDir: await tempDir('contrib-emu'), seedDir: seed, timeScale: 10, rateLimits: true })
    root = await tempDir('contrib')
    emu.resetStats()
  })

  afterAll(async () => {
    for (const service of services) if (service.exitCode === null) service.kill('SIGKILL')
    for (const mountpoint of mountpoints) await cleanupMount(mountpoint)
    const floods = emu.stats().floods.total
    await emu.close()
    for (const dir of [seed, emu.dataDir, root]) await removeDir(dir)
    // Checked after the cleanup, so that a failure leaves nothing behind.
    expect(floods).toBe(0)
  })

  it('the unit mounts in the foreground, stops with `fichfs unmount`, and holds no key', () => {
    const text = readFileSync(UNIT, 'utf8')
    expect(unitLine('Type')).toBe('simple')
    expect(unitLine('ExecStart')).toBe('fichfs mount %h/1fichier')
    expect(unitLine('ExecStop')).toBe('fichfs unmount %h/1fichier')
    expect(unitLine('WantedBy')).toBe('default.target')
    expect(text).not.toMatch(/FICHFS_API_KEY=/)
  })

  it('systemd-analyze verify accepts the unit', async (context) => {
    if ((await sh('command -v systemd-analyze')).code !== 0) return context.skip()
    const dir = join(root, 'unit')
    await mkdir(join(dir, 'run'), { recursive: true, mode: 0o700 })
    // verify checks that the command exists: point it at the binary under test.
    writeFileSync(join(dir, 'fichfs.service'), readFileSync(UNIT, 'utf8').replace(/^(Exec\w+)=fichfs /gm, `$1=${BIN} `))
    const result = await sh(`systemd-analyze verify --user ${join(dir, 'fichfs.service')}`, { env: { ...process.env, XDG_RUNTIME_DIR: join(dir, 'run') } })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('ExecStart and ExecStop, run by hand with the stored key, mount, upload and unmount', async (context) => {
    if (!existsSync('/dev/fuse')) return context.skip()
    const home = join(root, 'home')
    await mkdir(join(home, 'run'), { recursive: true, mode: 0o700 })
    // The environment a user manager gives its units: HOME and XDG_RUNTIME_DIR, no fichfs variables.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), LANG: 'C.UTF-8' }
    ok(await fichfs(['login', '--stdin', '--endpoint', emu.apiBase, '--time-scale', '10'], { env, input: `${emu.apiKey}\n` }))
    expect(existsSync(join(home, '.config/fichfs/api-key'))).toBe(true)

    const mountpoint = join(home, '1fichier')
    mountpoints.push(mountpoint)
    // The only addition to ExecStart: the emulator's endpoint (the unit targets the real API).
    // The binary itself, as systemd runs it: the kernel and env(1) apply its shebang's Node flags.
    const [bin, ...unitArgs] = unitCommand('ExecStart', home)
    const service = spawn(bin as string, [...unitArgs, '--endpoint', emu.apiBase, '--time-scale', '10'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    services.push(service)
    let output = ''
    service.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    service.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    const exited = new Promise<number | null>((done) => service.on('exit', (code) => done(code)))
    const started = Date.now()
    while (!output.includes('is mounted')) {
      if (service.exitCode !== null || Date.now() - started > 30_000) throw new Error(`ExecStart did not mount:\n${output}`)
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(await run(`cat ${mountpoint}/hello.txt`)).toBe('hello from 1fichier\n')
    // The daemon runs with the shebang's Node flags (launcher.ts; docs/SEMANTICS.md, Memory).
    const cmdline = readFileSync(`/proc/${service.pid}/cmdline`, 'utf8').split('\0')
    expect(cmdline).toEqual(expect.arrayContaining(nodeFlagsOf(BIN)))
    await run(`head -c 2000000 /dev/urandom > ${mountpoint}/from-unit.bin`)

    const stop = ok(await fichfs(unitCommand('ExecStop', home).slice(1), { env }))
    expect(stop.stdout).toContain(`unmounted ${mountpoint}`)
    expect(await exited).toBe(0)
    expect(isMounted(mountpoint)).toBe(false)
    expect(emu.tree().find((entry) => entry.path === '/from-unit.bin')?.size).toBe(2_000_000)
    expect(keyFreeReport(output + stop.stdout + stop.stderr, emu.apiKey)).toBe('no key')
  })

  it('an fstab line mounts through mount(8) and mount.fuse, and `fichfs unmount` takes it down', async (context) => {
    if (!canMount) return context.skip()
    const dir = join(root, 'fstab')
    const mountpoint = join(dir, 'mnt')
    const runtime = join(dir, 'run')
    await mkdir(mountpoint, { recursive: true })
    await mkdir(runtime, { recursive: true, mode: 0o700 })
    mountpoints.push(mountpoint)
    const keyFile = join(dir, 'key')
    writeFileSync(keyFile, `${emu.apiKey}\n`, { mode: 0o600 })
    // The unit's cache (one account, one set of rate gates: two caches would flood the emulator).
    const cache = join(root, 'home/.cache/fichfs')
    const options = [`endpoint=${emu.apiBase}`, `api_key_file=${keyFile}`, `cache_dir=${cache}`, `log_file=${join(dir, 'mount.log')}`, 'time_scale=10', 'noauto', '_netdev']
    const fstab = join(dir, 'fstab')
    writeFileSync(fstab, `# fichfs, as in docs/SYSTEMD.md\n${HELPER}#fichfs ${mountpoint} fuse ${options.join(',')} 0 0\n`)
    // FICHFS_RUNTIME_DIR keeps the control socket in the test's dir (mount(8) keeps the variable).
    const env = { ...process.env, FICHFS_RUNTIME_DIR: runtime }
    const mounted = await sh(`mount -T ${fstab} ${mountpoint}`, { env })
    expect(mounted.stderr).toBe('')
    expect(mounted.code).toBe(0)
    expect(readFileSync('/proc/self/mounts', 'utf8')).toContain(`${mountpoint} fuse.fichfs `)
    expect(await run(`cat ${mountpoint}/hello.txt`)).toBe('hello from 1fichier\n')
    const status = ok(await fichfs(['status', mountpoint], { env }))
    expect(status.stdout).toContain(`${mountpoint}  (${emu.apiBase})`)
    ok(await fichfs(['unmount', mountpoint], { env }))
    expect(isMounted(mountpoint)).toBe(false)
    expect(keyFreeReport(readFileSync(join(dir, 'mount.log'), 'utf8'), emu.apiKey)).toBe('no key')

    // The same from the command line, read-only this time.
    ok(await sh(`mount -t fuse '${HELPER}#fichfs' ${mountpoint} -o ${options.join(',')},ro`, { env }))
    expect(readFileSync('/proc/self/mounts', 'utf8')).toContain(`${mountpoint} fuse.fichfs `)
    const write = await sh(`echo x > ${mountpoint}/nope.txt`)
    expect(write.stderr).toContain('Read-only file system')
    ok(await fichfs(['unmount', mountpoint], { env }))
    expect(isMounted(mountpoint)).toBe(false)
  })

  it('the helper refuses a key in the options and a sub-folder source', async () => {
    const key = await sh(`${HELPER} fichfs /tmp/nowhere -o api_key=${emu.apiKey.slice(0, 8)}`)
    expect(key.code).toBe(1)
    expect(key.stderr).toContain('use api_key_file=PATH')
    const sub = await sh(`${HELPER} 'fichfs#/photos' /tmp/nowhere`)
    expect(sub.code).toBe(1)
    expect(sub.stderr).toContain('fichfs mounts the whole account')
    const unknown = await sh(`${HELPER} fichfs /tmp/nowhere -o bogus=1`)
    expect(unknown.stderr).toContain('unknown option bogus=1')
    const fake = await sh(`${HELPER} fichfs /tmp/nowhere -f -o rw,noauto,allow_other,api_key_file=/k,x-systemd.automount`)
    expect(fake.code).toBe(0)
    expect(fake.stderr).toContain('fichfs.js mount /tmp/nowhere --daemon --allow-other --api-key-file /k')
  })
})
