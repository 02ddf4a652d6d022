/**
 * `fichfs unmount <mountpoint>`: asks the running mount (over its control socket) to upload
 * what is pending and unmount, showing progress; `--no-wait` leaves pending uploads journaled
 * for the next mount. Without a running daemon (a crash), it clears the stale mount.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { FichfsError } from '../../errors.js'
import { forceUnmount } from '../../fs/fuse-adapter.js'
import type { UploadStatus } from '../../fs/uploader.js'
import { requestControl, socketPathFor } from '../control.js'
import { isMounted } from '../mount-service.js'
import { uploadProgress } from '../progress.js'
import { reportLeftovers } from './mount.js'

interface UnmountArgs {
  mountpoint: string
  wait: boolean
}

export const unmountCommand: CommandModule<object, UnmountArgs> = {
  command: 'unmount <mountpoint>',
  aliases: ['umount'],
  describe: 'Upload pending files, then unmount',
  builder: (yargs) => yargs
    .positional('mountpoint', { type: 'string', demandOption: true })
    .option('wait', { type: 'boolean', default: true, describe: 'Wait for pending uploads (--no-wait: keep them queued for the next mount)' }),
  handler: async (args) => {
    const mountpoint = resolve(args.mountpoint)
    const socket = socketPathFor(mountpoint)
    if (existsSync(socket)) {
      try {
        const progress = uploadProgress('fichfs: uploading before unmount')
        const answer = await requestControl(socket, { cmd: 'unmount', wait: args.wait }, (message) => {
          if (message.progress) progress.update(message.progress as UploadStatus)
        }).catch((error: unknown) => {
          progress.finish()
          throw error
        })
        progress.finish(answer.status as UploadStatus | undefined)
        if (answer.ok !== true) throw new FichfsError('FICHFS_UNMOUNT', `the mount refused: ${String(answer.error)}`)
        reportLeftovers(answer.status as UploadStatus)
        process.stdout.write(`fichfs: unmounted ${mountpoint}\n`)
        return
      } catch (error) {
        if (error instanceof FichfsError) throw error
        // Only a socket nobody listens on means the daemon is gone. One that accepted the
        // request and went silent belongs to a live daemon: detaching its mount would leave it
        // running without one.
        if (!noListener(error)) {
          throw new FichfsError('FICHFS_UNMOUNT_NO_ANSWER', `the fichfs daemon of ${mountpoint} is running but did not answer (${(error as Error).message})`, {
            cause: error,
            hint: 'Try again in a moment. To stop it anyway: send it SIGTERM twice (pending uploads stay queued for the next mount).',
          })
        }
        // The daemon is gone (a crash): fall through to clearing the stale mount.
      }
    }
    if (!isMounted(mountpoint)) throw new FichfsError('FICHFS_NOT_MOUNTED', `${mountpoint} is not mounted`)
    await forceUnmount(mountpoint)
    process.stdout.write(`fichfs: unmounted ${mountpoint} (no running fichfs answered; a stale mount was cleared)\n`)
  },
}

/** The control socket is a leftover: nothing listens on it (the daemon died). */
function noListener(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === 'ECONNREFUSED' || code === 'ENOENT'
}
