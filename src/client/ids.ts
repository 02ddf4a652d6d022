/** File identifiers: a 1fichier file is known by its URL, `https://1fichier.com/?<id>`. */

/** The `<id>` of `https://1fichier.com/?<id>` (or of the older `https://<id>.1fichier.com/`). */
export function fileIdFromUrl(url: string): string {
  const query = url.match(/\?([a-z0-9]{5,20})(?:&|$)/i)
  if (query?.[1]) return query[1].toLowerCase()
  const sub = url.match(/^https?:\/\/([a-z0-9]{5,20})\.1fichier\.com\/?$/i)
  if (sub?.[1]) return sub[1].toLowerCase()
  // An unknown form: still a stable, file-name-safe key.
  return url.replace(/[^a-z0-9]/gi, '').slice(-24).toLowerCase()
}
