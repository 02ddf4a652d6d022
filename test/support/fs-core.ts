/**
 * What the filesystem-core tests (test/fs/*) share: an in-memory upload source, and the one
 * teardown of a FichierFs over a test emulator (the fs first, so nothing it still sends meets a
 * closed client, then its store, the client, the emulator, and the temp dir).
 */
import { Readable } from 'node:stream'
import type { MetadataStore } from '../../src/cache/metadata-store.js'
import type { FichierClient } from '../../src/client/fichier-client.js'
import type { FichierFs } from '../../src/fs/fichier-fs.js'
import type { TestEmulator } from '../emulator/helpers.js'
import { removeDir } from './mount.js'

/** A file for client.upload made of a string. */
export const source = (name: string, data: string) => ({ name, size: Buffer.byteLength(data), open: () => Readable.from([Buffer.from(data)]) })

export async function stopFsCore(parts: { fs: FichierFs; store: MetadataStore; client: FichierClient; t: TestEmulator; dir: string }): Promise<void> {
  await parts.fs.shutdown({ wait: false })
  parts.store.close()
  await parts.client.close()
  await parts.t.dispose()
  await removeDir(parts.dir)
}
