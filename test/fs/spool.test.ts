/** The spool works wherever the cache dir is, not only under the system temp dir. */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Spool } from '../../src/fs/spool.js'

describe('Spool', () => {
  // Under the project, like ~/.cache/fichfs: outside the system temp dir.
  const root = mkdtempSync(join(process.cwd(), '.vitest-tmp-spool-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('creates private spool files outside the temp dir, and reads back what was written', async () => {
    const spool = new Spool(join(root, 'spool'))
    const path = spool.create()
    expect(path.startsWith(join(root, 'spool'))).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    spool.acquire(path)
    await spool.write(path, Buffer.from('hello'), 3)
    expect(spool.size(path)).toBe(8)
    expect((await spool.read(path, 3, 100)).toString()).toBe('hello')
    await spool.truncate(path, 4)
    expect((await spool.read(path, 0, 100)).length).toBe(4)
    await spool.release(path)
    await spool.remove(path)
  })
})
