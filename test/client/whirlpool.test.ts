/** Native (OpenSSL legacy provider) and hash-wasm Whirlpool give the same digests. */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createWhirlpoolHasher, whirlpoolOfFile, whirlpoolOfFileStreamed } from '../../src/client/whirlpool.js'

// The reference vector of the Whirlpool specification (ISO/IEC 10118-3), for "abc".
const ABC = '4e2448a4c6f486bb16b6562c73b4020bf3043e3a731bce721ae1b303d97e6d4c7181eebdb6c57e277d0e34957114cbd6c797fc9d95d8b582d225292076d4eef5'

describe('Whirlpool', () => {
  const root = mkdtempSync(join(process.cwd(), '.vitest-tmp-whirlpool-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('hash-wasm gives the reference digest', async () => {
    const hasher = await createWhirlpoolHasher({ preferWasm: true })
    hasher.update(Buffer.from('abc'))
    expect(hasher.digest()).toBe(ABC)
  })

  it('OpenSSL (node --openssl-legacy-provider) gives the same digests as hash-wasm, on the same bytes', async () => {
    const data = randomBytes(3 << 20)
    const path = join(root, 'data.bin')
    writeFileSync(path, data)
    const wasm = await createWhirlpoolHasher({ preferWasm: true })
    wasm.update(data.subarray(0, 1000))
    wasm.update(data.subarray(1000))
    const expected = wasm.digest()
    const script = `const h = require('node:crypto').createHash('whirlpool'); h.update(Buffer.from('abc'));
      const f = require('node:crypto').createHash('whirlpool'); f.update(require('node:fs').readFileSync(process.argv[1]));
      process.stdout.write(h.digest('hex') + ' ' + f.digest('hex'))`
    const [abc, file] = execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', script, path], { encoding: 'utf8' }).split(' ')
    expect(abc).toBe(ABC)
    expect(file).toBe(expected)
    // And this process's own paths (native or not, whichever it has) agree with both.
    expect(await whirlpoolOfFile(path)).toBe(expected)
    expect(await whirlpoolOfFileStreamed(path)).toBe(expected)
  })
})
