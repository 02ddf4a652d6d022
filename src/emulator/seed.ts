import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT_FOLDER_ID } from '../client/wire.js'
import type { Account } from './account.js'
import { nameProblem } from './names.js'
import { stageStream } from './staging.js'

export interface SeedReport {
  folders: number
  files: number
  skipped: number
}

/**
 * Upload a local tree into the account as the service would take it: existing folders are
 * reused and a file already present with the same name and size is not added twice, so seeding
 * the same dataDir again is harmless. What the service would refuse is skipped with a warning.
 */
export async function seedAccount(account: Account, sourceDir: string, tmpDir: string, warn: (message: string) => void): Promise<SeedReport> {
  const report: SeedReport = { folders: 0, files: 0, skipped: 0 }
  const skip = (path: string, why: string): void => {
    report.skipped += 1
    warn(`seed: skipping ${path}: ${why}`)
  }

  const visit = async (localDir: string, folderId: number): Promise<void> => {
    const entries = await readdir(localDir, { withFileTypes: true })
    entries.sort((a, b) => a.name.localeCompare(b.name))
    // Name and size of the files already there, looked up once per folder (a folder of 5,000
    // files would otherwise cost 5,000 full listings).
    const present = new Set(account.filesIn(folderId).map((file) => `${file.size}:${file.filename}`))
    for (const entry of entries) {
      const localPath = join(localDir, entry.name)
      const kind = entry.isDirectory() ? 'folder' : 'file'
      const problem = nameProblem(entry.name, kind)
      if (problem) {
        skip(localPath, problem)
        continue
      }
      if (entry.isDirectory()) {
        let folder = account.folderByName(folderId, entry.name)
        if (!folder) {
          folder = account.createFolder(folderId, entry.name)
          report.folders += 1
        }
        await visit(localPath, folder.id)
      } else if (entry.isFile()) {
        const { size } = await stat(localPath)
        if (size === 0) {
          skip(localPath, 'the service refuses empty files')
          continue
        }
        if (present.has(`${size}:${entry.name}`)) continue
        const staged = await stageStream(createReadStream(localPath), tmpDir)
        if (staged.overflow) continue
        await account.addFile(folderId, entry.name, staged)
        present.add(`${size}:${entry.name}`)
        report.files += 1
      } else {
        skip(localPath, 'not a regular file or directory')
      }
    }
  }

  await visit(sourceDir, ROOT_FOLDER_ID)
  return report
}
