/**
 * The emulator's upload hash: OpenSSL's Whirlpool when Node has the legacy provider (as the
 * benchmarks run it), hash-wasm's otherwise (as the tests run it). Both must store the digest
 * the Whirlpool specification gives.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { stageStream } from '../../src/emulator/staging.js'

// The reference vector of the Whirlpool specification (ISO/IEC 10118-3), for "abc".
const ABC = '4e2448a4c6f486bb16b6562c73b4020bf3043e3a731bce721ae1b303d97e6d4c7181eebdb6c57e277d0e34957114cbd6c797fc9d95d8b582d225292076d4eef5'

describe('the emulator stages an upload with its Whirlpool', () => {
  const root = mkdtempSync(join(process.cwd(), '.vitest-tmp-staging-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('in this process (no legacy provider: hash-wasm), split over chunks', async () => {
    const staged = await stageStream(Readable.from([Buffer.from('a'), Buffer.from('bc')]), root)
    expect(staged.overflow).toBe(false)
    if (staged.overflow) return
    expect(staged.whirlpool).toBe(ABC)
    expect(readFileSync(staged.tempPath, 'utf8')).toBe('abc')
  })

  it('a source that fails before its first chunk leaves no temp file once the promise settles', async () => {
    // The temp file appears when the write stream's open completes, which can come after the
    // failure: stageStream removes it only once the stream has closed, whatever the order.
    const dir = join(root, 'failing')
    mkdirSync(dir)
    for (let round = 0; round < 50; round++) {
      const source = new Readable({ read() {} })
      const staging = stageStream(source, dir)
      source.destroy(new Error('connection reset'))
      await expect(staging).rejects.toThrow('connection reset')
      expect(readdirSync(dir)).toEqual([])
    }
  })

  it('under --openssl-legacy-provider (OpenSSL), from the built emulator', () => {
    const staging = pathToFileURL(join(process.cwd(), 'dist', 'emulator', 'staging.js')).href
    const script = `import { Readable } from 'node:stream'
      import { createHash } from 'node:crypto'
      const { stageStream } = await import(${JSON.stringify(staging)})
      createHash('whirlpool') // throws without the provider: this run is OpenSSL's
      const staged = await stageStream(Readable.from([Buffer.from('ab'), Buffer.from('c')]), process.argv[1])
      process.stdout.write(staged.whirlpool)`
    const digest = execFileSync(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', script, root], { encoding: 'utf8' })
    expect(digest).toBe(ABC)
  })
})
