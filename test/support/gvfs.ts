/**
 * Running GIO with the gvfs trash daemon in tests: `gio trash --list/--restore/--empty` need
 * gvfsd and gvfsd-trash on a D-Bus session bus. Either gvfs is installed (Debian's gvfs and
 * gvfs-daemons), or FICHFS_TEST_GVFS_ROOT names a tree where those packages were unpacked
 * (scripts/ci-gvfs.sh does that for CI without pulling in systemd and udisks2): then a private
 * session bus is given service and mount files pointing into that tree.
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sh, tempDir, type ShResult } from './mount.js'

export interface Gvfs {
  /** Run a shell script inside a D-Bus session where gio reaches gvfsd-trash. */
  run(script: string): Promise<ShResult>
  /** Where gvfs came from (for the test's log). */
  source: string
}

const SYSTEM_TRASH_DAEMON = '/usr/libexec/gvfsd-trash'

/** gvfs for this test run, or why there is none. */
export async function findGvfs(): Promise<Gvfs | string> {
  if ((await sh('command -v gio && command -v dbus-run-session')).code !== 0) return 'gio or dbus-run-session is missing (apt-get install libglib2.0-bin dbus)'
  const root = process.env.FICHFS_TEST_GVFS_ROOT
  if (root) return unpacked(root)
  if (existsSync(SYSTEM_TRASH_DAEMON)) {
    return { source: 'the installed gvfs', run: (script) => sh(`timeout 60 dbus-run-session -- sh -c ${quote(script)}`, { timeoutMs: 90_000 }) }
  }
  return 'gvfs is not installed (apt-get install gvfs gvfs-daemons), and FICHFS_TEST_GVFS_ROOT is not set (scripts/ci-gvfs.sh)'
}

async function unpacked(root: string): Promise<Gvfs | string> {
  const gvfsd = join(root, 'usr/libexec/gvfsd')
  const trashd = join(root, 'usr/libexec/gvfsd-trash')
  const modules = join(root, 'usr/lib/x86_64-linux-gnu/gio/modules')
  if (!existsSync(gvfsd) || !existsSync(trashd) || !existsSync(modules)) return `FICHFS_TEST_GVFS_ROOT=${root} holds no unpacked gvfs`
  const libs = `${join(root, 'usr/lib/x86_64-linux-gnu/gvfs')}:${join(root, 'usr/lib/x86_64-linux-gnu')}`
  const dir = await tempDir('gvfs')
  await mkdir(join(dir, 'services'))
  await mkdir(join(dir, 'mounts'))
  const wrapper = async (name: string, binary: string, extra = '') => {
    const path = join(dir, name)
    await writeFile(path, `#!/bin/sh\nexport LD_LIBRARY_PATH=${libs}\n${extra}exec ${binary} "$@"\n`, { mode: 0o755 })
    return path
  }
  const daemon = await wrapper('gvfsd.sh', gvfsd, `export GVFS_MOUNTABLE_DIR=${join(dir, 'mounts')}\nexport GVFS_DISABLE_FUSE=1\n`)
  const trash = await wrapper('gvfsd-trash.sh', trashd)
  await writeFile(join(dir, 'mounts/trash.mount'), `[Mount]\nType=trash\nExec=${trash}\nAutoMount=true\n`)
  await writeFile(join(dir, 'services/org.gtk.vfs.Daemon.service'), `[D-BUS Service]\nName=org.gtk.vfs.Daemon\nExec=${daemon}\n`)
  const config = join(dir, 'session.conf')
  await writeFile(config, [
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
    '<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>',
    `<servicedir>${join(dir, 'services')}</servicedir>`,
    '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>',
    '</busconfig>',
  ].join('\n'))
  const env = { ...process.env, LD_LIBRARY_PATH: libs, GIO_EXTRA_MODULES: modules }
  return {
    source: `gvfs unpacked in ${root}`,
    run: (script) => sh(`timeout 60 dbus-run-session --config-file=${config} -- sh -c ${quote(script)}`, { env, timeoutMs: 90_000 }),
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`
}
