/** `fichfs logout`: remove the key stored by `fichfs login`. */
import type { CommandModule } from 'yargs'
import { storedKeyPath } from '../config.js'
import { forgetKey } from '../key-store.js'
import { fichfsMountpoints } from '../paths.js'

export const logoutCommand: CommandModule = {
  command: 'logout',
  describe: 'Remove the API key stored by `fichfs login`',
  handler: () => {
    const path = storedKeyPath()
    if (!forgetKey()) {
      process.stdout.write(`fichfs: no key is stored (${path}); nothing to do.\n`)
    } else {
      process.stdout.write(`fichfs: removed the stored key (${path}).\n`)
      // Removing our copy does not revoke the key: say how, in case it leaked.
      process.stderr.write('fichfs: the key itself stays valid at 1fichier; to revoke it, regenerate it in https://1fichier.com/console/params.pl\n')
    }
    if (process.env.FICHFS_API_KEY) process.stderr.write('fichfs: note: FICHFS_API_KEY is still set in this environment.\n')
    const mounts = fichfsMountpoints()
    if (mounts.length > 0) process.stderr.write(`fichfs: running mounts keep their key until unmounted: ${mounts.join(', ')}\n`)
  },
}
