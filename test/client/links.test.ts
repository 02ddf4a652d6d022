/**
 * Download links kept beyond one client (a LinkStore; the metadata cache's in the CLI): a young
 * link is reused by the next client without a get_token, an old one is not, a stored link the
 * download host refuses is renewed once and replaced, and the SQLite store drops what is old.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinkCache } from '../../src/cache/link-cache.js'
import { MetadataStore } from '../../src/cache/metadata-store.js'
import type { LinkStore, StoredLink } from '../../src/client/link-store.js'
import { startTestEmulator, type TestEmulator } from '../emulator/helpers.js'
import { collect, testClient } from '../support/client.js'

class MemoryLinks implements LinkStore {
  readonly map = new Map<string, StoredLink>()
  get(url: string) {
    return this.map.get(url)
  }
  set(url: string, stored: StoredLink) {
    this.map.set(url, stored)
  }
  delete(url: string) {
    this.map.delete(url)
  }
}

describe('download links kept in a LinkStore', () => {
  let t: TestEmulator
  let url: string
  const data = randomBytes(50_000)
  const tokens = () => t.emu.stats().calls['download/get_token.cgi'] ?? 0

  beforeAll(async () => {
    t = await startTestEmulator()
    const client = testClient(t.emu)
    const { uploaded } = await client.upload(0, [{ name: 'kept.bin', size: data.length, open: () => Readable.from([data]) }])
    url = uploaded[0]?.url as string
    await client.close()
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('a young link is reused by the next client; an old one is not', async () => {
    const links = new MemoryLinks()
    const first = testClient(t.emu, { client: { linkStore: links, linkLifetimeMs: 60_000 } })
    const before = tokens()
    expect((await collect(first.readRange(url, 0, 999))).equals(data.subarray(0, 1000))).toBe(true)
    await first.close()
    expect(tokens()).toBe(before + 1)
    expect(links.get(url)?.link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[a-z]\d+$/)

    const second = testClient(t.emu, { client: { linkStore: links, linkLifetimeMs: 60_000 } })
    expect((await collect(second.readRange(url, 1000, 49_999))).equals(data.subarray(1000))).toBe(true)
    expect(tokens()).toBe(before + 1)
    expect(second.downloadStats().linkRequests).toBe(0)
    await second.close()

    const stored = links.get(url) as StoredLink
    links.set(url, { ...stored, obtainedAt: Date.now() - 61_000 })
    const third = testClient(t.emu, { client: { linkStore: links, linkLifetimeMs: 60_000 } })
    await collect(third.readRange(url, 0, 9))
    expect(tokens()).toBe(before + 2)
    expect(links.get(url)?.obtainedAt).toBeGreaterThan(Date.now() - 5_000)
    await third.close()
  })

  it('a stored link the host refuses is renewed once and replaced; forgetLink drops it', async () => {
    const links = new MemoryLinks()
    const base = new URL(t.emu.downloadBase)
    links.set(url, { link: `${base.origin}/p123456789`, obtainedAt: Date.now() })
    const client = testClient(t.emu, { client: { linkStore: links, linkLifetimeMs: 60_000 } })
    const before = tokens()
    expect((await collect(client.readRange(url, 0, 99))).equals(data.subarray(0, 100))).toBe(true)
    expect(tokens()).toBe(before + 1)
    expect(links.get(url)?.link).not.toBe(`${base.origin}/p123456789`)
    client.forgetLink(url)
    expect(links.get(url)).toBeUndefined()
    await client.close()
  })

  it('the metadata cache keeps links across opens and drops those over an hour old', () => {
    const store = new MetadataStore(':memory:')
    const cache = new LinkCache(store.db)
    cache.set('https://1fichier.com/?young', { link: 'http://a/p1', obtainedAt: Date.now() })
    cache.set('https://1fichier.com/?old', { link: 'http://a/p2', obtainedAt: Date.now() - 2 * 3_600_000 })
    const reopened = new LinkCache(store.db)
    expect(reopened.get('https://1fichier.com/?young')?.link).toBe('http://a/p1')
    expect(reopened.get('https://1fichier.com/?old')).toBeUndefined()
    reopened.delete('https://1fichier.com/?young')
    expect(reopened.get('https://1fichier.com/?young')).toBeUndefined()
    store.close()
  })
})
