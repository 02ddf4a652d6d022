import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { createWhirlpool } from 'hash-wasm'
import { newBlobId } from './ids.js'
import type { StagedBlob } from './account.js'

export type StageResult = ({ overflow: false } & StagedBlob) | { overflow: true; size: number }

/**
 * Stream `source` into a temp file under `tmpDir` while hashing it with Whirlpool, chunk by
 * chunk (a 4 GiB upload never sits in memory). Past `maxSize` the rest is read and dropped so
 * the request can still be answered.
 */
export async function stageStream(source: Readable, tmpDir: string, maxSize = Number.POSITIVE_INFINITY): Promise<StageResult> {
  // Listen for errors before the first await: a connection reset while the hasher loads makes
  // the part stream emit 'error', and an 'error' with no listener takes the whole server down.
  let failed: Error | undefined
  const remember = (error: Error) => {
    failed ??= error
  }
  source.on('error', remember)
  const hasher = await whirlpoolHasher()
  const tempPath = join(tmpDir, `${newBlobId()}.part`)
  const out = createWriteStream(tempPath)
  out.on('error', remember)
  let size = 0
  let overflow = false
  try {
    if (failed) throw failed
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (failed) throw failed
      size += chunk.length
      if (overflow) continue
      if (size > maxSize) {
        overflow = true
        continue
      }
      hasher.update(chunk)
      if (!out.write(chunk)) await once(out, 'drain')
    }
    out.end()
    await once(out, 'finish')
    if (failed) throw failed
  } catch (error) {
    // The temp file is created when the stream's open completes, which can be after this
    // catch runs (a reset before the first chunk): remove it only once the stream has closed.
    out.destroy()
    if (!out.closed) await once(out, 'close').catch(() => undefined)
    await rm(tempPath, { force: true })
    throw error
  }
  if (overflow) {
    await rm(tempPath, { force: true })
    return { overflow: true, size }
  }
  return { overflow: false, tempPath, size, whirlpool: hasher.digest() }
}

/** Whether this process's OpenSSL has Whirlpool (the legacy provider is loaded). */
const opensslWhirlpool = (() => {
  try {
    createHash('whirlpool')
    return true
  } catch {
    return false
  }
})()

/**
 * OpenSSL's Whirlpool where Node was started with `--openssl-legacy-provider` (about twice
 * hash-wasm's speed: the benchmarks run so, so that the emulator's hashing does not cap the
 * upload they compare against), hash-wasm's everywhere else. Both give the same digest.
 * The client has its own (src/client/whirlpool.ts) on purpose: the emulator shares wire types
 * only, so that a client bug cannot be agreed with by the server it is tested against.
 */
async function whirlpoolHasher(): Promise<{ update(chunk: Buffer): void; digest(): string }> {
  if (opensslWhirlpool) {
    const hash = createHash('whirlpool')
    return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('hex') }
  }
  const hash = await createWhirlpool()
  hash.init()
  return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('hex') }
}

export async function discardStaged(staged: StagedBlob): Promise<void> {
  await rm(staged.tempPath, { force: true })
}
