/**
 * Open files: the table from FUSE handle numbers to what each handle reads or writes.
 *
 * A handle on a remote file reads through the RemoteReader; a handle on a local file (being
 * written, or waiting to upload) works on its spool file; a handle on a trash info file
 * (trash-view.ts) on its bytes in memory. A remote handle opened for writing
 * becomes a local one, under the same number, at its first change (local-files.ts).
 *
 * A handle whose file was unlinked (or replaced by a rename) keeps working until it is closed;
 * it then carries the `orphan` it belongs to (orphans.ts).
 */
import { fsError } from './errors.js'
import type { Orphan } from './orphans.js'
import type { ReadStream, RemoteFileRef } from './reader.js'

export interface RemoteHandle {
  kind: 'remote'
  path: string
  file: RemoteFileRef
  stream: ReadStream
  writable: boolean
  folderId: number
  name: string
  orphan?: Orphan
}

export interface LocalHandle {
  kind: 'local'
  path: string
  localId: number
  spoolPath: string | null
  writable: boolean
  orphan?: Orphan
}

/** An info file of the trash view (.Trash-<uid>/info/NAME): its bytes, kept in memory while open. */
export interface TrashInfoHandle {
  kind: 'trash-info'
  path: string
  name: string
  writable: boolean
  data: Buffer
  /** Written to since it was opened: saved at release. */
  dirty: boolean
}

export type Handle = RemoteHandle | LocalHandle | TrashInfoHandle

export class HandleTable {
  private readonly handles = new Map<number, Handle>()
  private next = 1

  /** A new handle number (fuse-native: an int32, and 0 means "none"). */
  add(handle: Handle): number {
    while (this.handles.has(this.next) || this.next === 0) this.next = (this.next % 0x7ffffff0) + 1
    const fh = this.next++
    this.handles.set(fh, handle)
    return fh
  }

  get(fh: number): Handle {
    const handle = this.handles.get(fh)
    if (!handle) throw fsError('EBADF', `no open file ${fh}`)
    return handle
  }

  find(fh: number): Handle | undefined {
    return this.handles.get(fh)
  }

  replace(fh: number, handle: Handle): void {
    this.handles.set(fh, handle)
  }

  delete(fh: number): void {
    this.handles.delete(fh)
  }

  get size(): number {
    return this.handles.size
  }

  values(): IterableIterator<Handle> {
    return this.handles.values()
  }
}
