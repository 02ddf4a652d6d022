/**
 * 1fichier's facts about a file as extended attributes: URL, Whirlpool, download password and
 * description, read with getfattr and changed with setfattr, and the service sees the change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { api } from '../emulator/helpers.js'
import { expectNoFloods } from '../support/checks.js'
import { mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, type TestMount } from '../support/mount.js'
import { writeTree } from '../support/tree.js'

describe('extended attributes', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  let file: string
  let url: string

  beforeAll(async () => {
    seed = await tempDir('xattr-seed')
    await writeTree(seed, { files: { 'doc.txt': 'some content\n', 'folder/inner.bin': 5000 } })
    emu = await startEmulator({ dataDir: await tempDir('xattr-emu'), seedDir: seed, timeScale: 10 })
    cacheDir = await tempDir('xattr-cache')
    mount = await mountFichfs(emu, { cacheDir })
    file = `${mount.mountpoint}/doc.txt`
    url = emu.tree().find((entry) => entry.path === '/doc.txt')?.url as string
  })

  afterAll(async () => {
    await stopAllMounts()
    // No flood met, and no libfuse hidden name (.fuse_hidden…) ever reached 1fichier.
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mount.mountpoint]) await removeDir(dir)
  })

  // The test's own look at the service, spaced so that it never floods (3 calls per 100 ms at x10).
  const info = async () => {
    await new Promise((resolve) => setTimeout(resolve, 250))
    return (await api(emu, 'file/info.cgi', { url })).json as { description: string; pass: number }
  }

  it('getfattr shows the URL and the Whirlpool checksum', async () => {
    expect(await run(`getfattr --only-values -n user.fichfs.url ${file}`)).toBe(url)
    const whirlpool = emu.tree().find((entry) => entry.path === '/doc.txt')?.whirlpool
    expect(await run(`getfattr --only-values -n user.fichfs.whirlpool ${file}`)).toBe(whirlpool)
    const dump = await run(`getfattr -d ${file}`)
    expect(dump).toContain(`user.fichfs.url="${url}"`)
    expect(dump).toContain('user.fichfs.whirlpool=')
  })

  it('setfattr sets and removes a description and a download password, and 1fichier sees it', async () => {
    await run(`setfattr -n user.fichfs.description -v 'holiday pictures' ${file}`)
    expect((await info()).description).toBe('holiday pictures')
    expect(await run(`getfattr --only-values -n user.fichfs.description ${file}`)).toBe('holiday pictures')

    await run(`setfattr -n user.fichfs.password -v 'secret-123' ${file}`)
    expect((await info()).pass).toBe(1)
    expect(await run(`getfattr --only-values -n user.fichfs.password ${file}`)).toBe('secret-123')
    // Still readable through the mount: fichfs knows the password it set.
    expect(await run(`cat ${file}`)).toBe('some content\n')

    expect((await sh(`setfattr -n user.fichfs.password -v short ${file}`)).stderr).toMatch(/Invalid argument/)
    await run(`setfattr -x user.fichfs.password ${file}`)
    expect((await info()).pass).toBe(0)
    await run(`setfattr -x user.fichfs.description ${file}`)
    expect((await info()).description).toBe('')
  })

  it('the kernel’s own probes (security.*, system.*) and unknown names cost no API call', async () => {
    const before = emu.stats().apiCalls
    // Labels and ACLs are not kept: "not supported", which ls -l remembers for the whole mount.
    for (const name of ['security.capability', 'security.selinux', 'system.posix_acl_access', 'trusted.x']) {
      expect((await sh(`getfattr -n ${name} ${file}`)).stderr).toMatch(/Operation not supported/)
    }
    expect((await sh(`getfattr -n user.other ${file}`)).stderr).toMatch(/No such attribute/)
    // ls -l asks for the SELinux label and the ACL of the first entry only (before: of each).
    const trace = await sh(`strace -f -e trace=getxattr,lgetxattr ls -l ${mount.mountpoint} 2>&1 >/dev/null | grep -c 'xattr(' || true`)
    expect(Number(trace.stdout.trim())).toBeLessThanOrEqual(2)
    expect((await sh(`setfattr -n user.other -v x ${file}`)).stderr).toMatch(/Operation not supported/)
    expect(await run(`getfattr -d ${mount.mountpoint}/folder`)).toBe('')
    expect(emu.stats().apiCalls).toBe(before)
  })
})
