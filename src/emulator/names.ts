import { extname } from 'node:path'
import { LIMITS } from '../client/wire.js'

// The characters 1fichier refuses (rclone#3298) plus the path separator and control bytes.
const FORBIDDEN_CHARACTERS = /["'<>$\\`/\u0000-\u001f\u007f]/

const MAX_FILE_NAME_BYTES = 255

export type NameKind = 'file' | 'folder'

/** Why the service would refuse this name, or undefined when it is acceptable. */
export function nameProblem(name: string, kind: NameKind): string | undefined {
  if (name.length === 0) return 'empty name'
  if (name.startsWith(' ')) return 'name starts with a space'
  if (FORBIDDEN_CHARACTERS.test(name)) return 'forbidden character in name'
  if (kind === 'folder' && [...name].length > LIMITS.maxFolderNameLength) return 'folder name too long'
  if (kind === 'file' && Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return 'file name too long'
  return undefined
}

const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.js': 'application/javascript',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.7z': 'application/x-7z-compressed',
  '.rar': 'application/x-rar-compressed',
  '.iso': 'application/x-iso9660-image',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.mp4': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.avi': 'video/x-msvideo',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
}

/** MIME type guessed from the extension, the way listings report `content-type`. */
export function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[extname(filename).toLowerCase()] ?? 'application/octet-stream'
}
