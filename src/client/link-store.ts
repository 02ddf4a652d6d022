/**
 * Where download links are kept between reads. A link from download/get_token serves every
 * ranged read of its file for 5 minutes; kept only in memory, a remount (or a restart of the
 * daemon) would pay one get_token per file again for links that are still good. The metadata
 * cache provides a SQLite-backed store (cache/link-cache.ts) that outlives the process; the
 * client stays free of SQLite and only sees this interface.
 */
export interface StoredLink {
  link: string
  /** When get_token answered (ms since the epoch): the link's age decides whether it is reused. */
  obtainedAt: number
}

export interface LinkStore {
  get(fileUrl: string): StoredLink | undefined
  set(fileUrl: string, stored: StoredLink): void
  delete(fileUrl: string): void
}
