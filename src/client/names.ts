/**
 * File and folder name encoding for 1fichier, compatible with rclone's fichier backend.
 *
 * 1fichier refuses names containing `" ' < > $ \` `` ` `` or `/`, control characters, or a
 * leading space (shared/1fichier-api.md §8). rclone works around this with its generic
 * `lib/encoder` MultiEncoder: each reserved character is replaced by a look-alike (mostly the
 * FULLWIDTH form), and a look-alike that was already present in the name is "quoted" with
 * U+201B ‛ so the mapping stays reversible. This module is a port of rclone's
 * `MultiEncoder.Encode`/`Decode` restricted to the flags the fichier backend enables by
 * default, so that a file uploaded by fichfs shows the same name in rclone and vice versa:
 *
 *   Display (= Standard = Zero | Slash | Ctl | Del | Dot) | BackSlash | SingleQuote |
 *   BackQuote | DoubleQuote | LtGt | Dollar | LeftSpace | RightSpace | InvalidUtf8
 *
 * Only those flags exist here; flags other backends use (Colon, Asterisk, RightPeriod, …)
 * are deliberately absent. encodeWith/decodeWith take a mask only so that rclone's own test
 * vectors (mostly one flag at a time) can be checked; fichfs itself uses encodeName/decodeName.
 *
 * Invalid UTF-8. rclone works on Go strings, i.e. raw bytes, and writes each byte of an
 * invalid UTF-8 sequence as `‛XX` (upper-case hex). A JS string cannot hold raw bytes, so we
 * follow Python's "surrogateescape" convention: a byte 0x80–0xFF that is not part of valid
 * UTF-8 is carried as the lone surrogate U+DC80–U+DCFF. Then:
 *   - encode turns U+DC80–U+DCFF into `‛XX`, exactly the text rclone would produce for the
 *     same bytes; any other lone surrogate (which has no byte form) is written as the `‛XX`
 *     triplet of its 3-byte WTF-8 form, which is what rclone produces for those bytes too;
 *   - decode turns `‛XX` back into bytes, reassembles adjacent bytes as UTF-8 (so `‛C3‛A9`
 *     gives `é`, as in rclone) and escapes the bytes that remain invalid as U+DC80–U+DCFF.
 * So decode(encode(x)) === x for every x in that canonical form. Two kinds of string are
 * not canonical and come back changed: escapes that spell valid UTF-8 (U+DCC3 U+DCA9 comes
 * back as `é`) and lone surrogates outside U+DC80–U+DCFF (back as three escaped bytes).
 * Whoever turns names into bytes (the FUSE layer) must use the same convention for invalid
 * names to survive; if it replaces them with U+FFFD instead, they are simply stored as U+FFFD.
 * The same convention applies to decode's input: lone surrogates there are bytes too and
 * pass through (Go passes invalid bytes through Decode). A stored name only gets them from a
 * `\uDxxx` JSON escape, which Go's JSON decoder (so rclone) would read as U+FFFD instead;
 * 1fichier is not known to send any, so the HTTP layer is left to decide.
 *
 * Divergence from rclone (one, in Decode only): rclone decides whether a trailing `␠` is a
 * quoted literal by looking at the single rune before it, so for a name ending in an even
 * run of ‛ and a space (e.g. `a‛ `, stored as `a‛‛␠`) it decodes to `a‛␠`, a different
 * name from the one it uploaded. We count the run of ‛ instead (odd = quoted), which gives
 * back the original name. Encode output is identical to rclone's in every case.
 */
import { ApiErrorCodes, FichierApiError } from './errors.js'
import { LIMITS } from './wire.js'


/** Bits of the supported rclone encoder flags. Values are ours, not Go's (Go's shifted between versions). */
export const Enc = {
  // NUL, the ␀ symbol and the quote rune ‛ are always handled, as in rclone (EncodeZero = 0).
  Zero: 0,
  Slash: 1 << 0,
  LtGt: 1 << 1,
  DoubleQuote: 1 << 2,
  SingleQuote: 1 << 3,
  BackQuote: 1 << 4,
  Dollar: 1 << 5,
  BackSlash: 1 << 6,
  Del: 1 << 7,
  Ctl: 1 << 8,
  LeftSpace: 1 << 9,
  RightSpace: 1 << 10,
  InvalidUtf8: 1 << 11,
  Dot: 1 << 12,
} as const

/** rclone's `encoder.Standard` (also `encoder.Display`). */
export const STANDARD_ENCODING = Enc.Zero | Enc.Slash | Enc.Ctl | Enc.Del | Enc.Dot

/** The default `encoding` of rclone's fichier backend. */
export const FICHIER_ENCODING =
  STANDARD_ENCODING |
  Enc.BackSlash |
  Enc.SingleQuote |
  Enc.BackQuote |
  Enc.DoubleQuote |
  Enc.LtGt |
  Enc.Dollar |
  Enc.LeftSpace |
  Enc.RightSpace |
  Enc.InvalidUtf8

// Adding this to a printable ASCII character gives its FULLWIDTH form.
const FULL_OFFSET = 0xfee0
// U+2400 SYMBOL FOR NULL starts the "control pictures" block (␀ ␁ … ␟).
const SYMBOL_OFFSET = 0x2400
const QUOTE = 0x201b // ‛ SINGLE HIGH-REVERSED-9 QUOTATION MARK
const QUOTE_STR = '\u201b'
const SYMBOL_SPACE = 0x2420 // ␠
const SYMBOL_DELETE = 0x2421 // ␡
const FULL_STOP = '\uff0e' // ．

// ASCII characters that are swapped for their FULLWIDTH form, and the flag enabling each.
const FULLWIDTH_FLAG = new Map<number, number>([
  [0x2f, Enc.Slash], // /
  [0x3c, Enc.LtGt], // <
  [0x3e, Enc.LtGt], // >
  [0x22, Enc.DoubleQuote], // "
  [0x27, Enc.SingleQuote], // '
  [0x60, Enc.BackQuote], // `
  [0x24, Enc.Dollar], // $
  [0x5c, Enc.BackSlash], // \
])

const has = (mask: number, flag: number): boolean => (mask & flag) !== 0

const isCtlSymbol = (cp: number): boolean => cp > SYMBOL_OFFSET && cp <= SYMBOL_OFFSET + 0x1f

const isSurrogate = (cp: number): boolean => cp >= 0xd800 && cp <= 0xdfff

const hex2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0')

/** Code points of `s`; a lone surrogate comes out as its own code unit value. */
function codePoints(s: string): number[] {
  const out: number[] = []
  for (const ch of s) out.push(ch.codePointAt(0)!)
  return out
}

/** The bytes rclone would see for a lone surrogate (see the module comment). */
function surrogateBytes(cp: number): number[] {
  if (cp >= 0xdc80 && cp <= 0xdcff) return [cp - 0xdc00]
  return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
}

/**
 * Encode a raw name with the given rclone flags (port of `MultiEncoder.Encode`).
 * Exported for tests against rclone's own vectors; fichfs code should call encodeName.
 */
export function encodeWith(mask: number, name: string): string {
  if (name === '') return ''

  if (has(mask, Enc.Dot)) {
    // '.' and '..' can't be names anywhere; their look-alikes must then be quoted.
    switch (name) {
      case '.':
        return FULL_STOP
      case '..':
        return FULL_STOP + FULL_STOP
      case FULL_STOP:
        return QUOTE_STR + FULL_STOP
      case FULL_STOP + FULL_STOP:
        return QUOTE_STR + FULL_STOP + QUOTE_STR + FULL_STOP
    }
  }

  let cps = codePoints(name)

  // Leading and trailing spaces are only replaced at the edges, so they are peeled off first.
  let prefix = ''
  if (has(mask, Enc.LeftSpace)) {
    if (cps[0] === 0x20) {
      prefix = '\u2420'
      cps = cps.slice(1)
    } else if (cps[0] === SYMBOL_SPACE) {
      prefix = QUOTE_STR + '\u2420'
      cps = cps.slice(1)
    }
  }
  let suffix = ''
  if (cps.length > 0 && has(mask, Enc.RightSpace)) {
    const last = cps[cps.length - 1]
    if (last === 0x20) {
      suffix = '\u2420'
      cps = cps.slice(0, -1)
    } else if (last === SYMBOL_SPACE) {
      suffix = QUOTE_STR + '\u2420'
      cps = cps.slice(0, -1)
    }
  }

  let out = prefix
  for (const cp of cps) {
    if (cp === 0) {
      out += '\u2400'
      continue
    }
    if (cp === SYMBOL_OFFSET || cp === QUOTE) {
      out += QUOTE_STR + String.fromCodePoint(cp)
      continue
    }
    if (isSurrogate(cp)) {
      // Go sees invalid UTF-8 here; without InvalidUtf8 it passes the bytes through untouched.
      if (has(mask, Enc.InvalidUtf8)) {
        for (const b of surrogateBytes(cp)) out += QUOTE_STR + hex2(b)
      } else {
        out += String.fromCharCode(cp)
      }
      continue
    }
    const fwFlag = FULLWIDTH_FLAG.get(cp)
    if (fwFlag !== undefined && has(mask, fwFlag)) {
      out += String.fromCodePoint(cp + FULL_OFFSET)
      continue
    }
    const narrowFlag = cp > FULL_OFFSET ? FULLWIDTH_FLAG.get(cp - FULL_OFFSET) : undefined
    if (narrowFlag !== undefined && has(mask, narrowFlag)) {
      out += QUOTE_STR + String.fromCodePoint(cp)
      continue
    }
    if (has(mask, Enc.Del)) {
      if (cp === 0x7f) {
        out += '\u2421'
        continue
      }
      if (cp === SYMBOL_DELETE) {
        out += QUOTE_STR + '\u2421'
        continue
      }
    }
    if (has(mask, Enc.Ctl)) {
      if (cp >= 0x01 && cp <= 0x1f) {
        out += String.fromCodePoint(SYMBOL_OFFSET + cp)
        continue
      }
      if (isCtlSymbol(cp)) {
        out += QUOTE_STR + String.fromCodePoint(cp)
        continue
      }
    }
    out += String.fromCodePoint(cp)
  }
  return out + suffix
}

const isHexDigit = (cp: number | undefined): boolean =>
  cp !== undefined &&
  ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x46) || (cp >= 0x61 && cp <= 0x66))

/**
 * Collects decoded output where some pieces are raw bytes (from `‛XX`), turning each run of
 * bytes into text the way a byte string would read as UTF-8 (see the module comment).
 */
class ByteAwareBuilder {
  private text = ''
  private bytes: number[] = []

  push(s: string): void {
    if (this.bytes.length > 0) this.flush()
    this.text += s
  }

  pushCodePoint(cp: number): void {
    // A lone surrogate stands for raw bytes: let it join neighbouring ‛XX bytes, as in Go.
    if (isSurrogate(cp)) for (const b of surrogateBytes(cp)) this.pushByte(b)
    else this.push(String.fromCodePoint(cp))
  }

  pushByte(b: number): void {
    this.bytes.push(b)
  }

  toString(): string {
    this.flush()
    return this.text
  }

  private flush(): void {
    this.text += bytesToString(this.bytes)
    this.bytes = []
  }
}

/**
 * Strict UTF-8 decoding (Go's rules: no overlongs, no surrogates, ≤ U+10FFFF); every byte
 * that is not part of a valid sequence becomes U+DC80–U+DCFF.
 */
function bytesToString(bytes: number[]): string {
  let out = ''
  let i = 0
  const cont = (k: number): boolean => {
    const b = bytes[k]
    return b !== undefined && (b & 0xc0) === 0x80
  }
  while (i < bytes.length) {
    const b0 = bytes[i]!
    if (b0 < 0x80) {
      out += String.fromCharCode(b0)
      i += 1
      continue
    }
    let cp = -1
    let len = 1
    if (b0 >= 0xc2 && b0 <= 0xdf && cont(i + 1)) {
      cp = ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f)
      len = 2
    } else if (b0 >= 0xe0 && b0 <= 0xef && cont(i + 1) && cont(i + 2)) {
      const v = ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f)
      if (v >= 0x800 && !isSurrogate(v)) {
        cp = v
        len = 3
      }
    } else if (b0 >= 0xf0 && b0 <= 0xf4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const v =
        ((b0 & 0x07) << 18) |
        ((bytes[i + 1]! & 0x3f) << 12) |
        ((bytes[i + 2]! & 0x3f) << 6) |
        (bytes[i + 3]! & 0x3f)
      if (v >= 0x10000 && v <= 0x10ffff) {
        cp = v
        len = 4
      }
    }
    if (cp < 0) {
      out += String.fromCharCode(0xdc00 + b0)
      i += 1
    } else {
      out += String.fromCodePoint(cp)
      i += len
    }
  }
  return out
}

/**
 * Decode a stored name with the given rclone flags (port of `MultiEncoder.Decode`, with the
 * trailing-space fix described in the module comment).
 * Exported for tests against rclone's own vectors; fichfs code should call decodeName.
 */
export function decodeWith(mask: number, stored: string): string {
  if (has(mask, Enc.Dot)) {
    switch (stored) {
      case FULL_STOP:
        return '.'
      case FULL_STOP + FULL_STOP:
        return '..'
      case QUOTE_STR + FULL_STOP:
        return FULL_STOP
      case QUOTE_STR + FULL_STOP + QUOTE_STR + FULL_STOP:
        return FULL_STOP + FULL_STOP
    }
  }

  let cps = codePoints(stored)

  let prefix = ''
  if (has(mask, Enc.LeftSpace)) {
    if (cps[0] === SYMBOL_SPACE) {
      prefix = ' '
      cps = cps.slice(1)
    } else if (cps[0] === QUOTE && cps[1] === SYMBOL_SPACE) {
      prefix = '\u2420'
      cps = cps.slice(2)
    }
  }

  let suffix = ''
  if (has(mask, Enc.RightSpace) && cps.length > 0 && cps[cps.length - 1] === SYMBOL_SPACE) {
    cps = cps.slice(0, -1)
    // The ␠ is a quoted literal only if an odd run of ‛ precedes it: in an even run every
    // ‛ quotes the next one. (rclone only checks the last rune: see the module comment.)
    let run = 0
    while (run < cps.length && cps[cps.length - 1 - run] === QUOTE) run++
    if (run % 2 === 1) {
      suffix = '\u2420'
      cps = cps.slice(0, -1)
    } else {
      suffix = ' '
    }
  }

  const out = new ByteAwareBuilder()
  out.push(prefix)
  let unquote = false
  let unquoteNext = false
  let skipNext = false
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!
    if (skipNext) {
      skipNext = false
      continue
    }
    unquote = unquoteNext
    unquoteNext = false

    if (cp === SYMBOL_OFFSET) {
      out.pushCodePoint(unquote ? cp : 0)
      continue
    }
    if (cp === QUOTE) {
      if (unquote) out.pushCodePoint(cp)
      else unquoteNext = true
      continue
    }
    const narrowFlag = cp > FULL_OFFSET ? FULLWIDTH_FLAG.get(cp - FULL_OFFSET) : undefined
    if (narrowFlag !== undefined && has(mask, narrowFlag)) {
      out.pushCodePoint(unquote ? cp : cp - FULL_OFFSET)
      continue
    }
    if (has(mask, Enc.Del) && cp === SYMBOL_DELETE) {
      out.pushCodePoint(unquote ? cp : 0x7f)
      continue
    }
    if (has(mask, Enc.Ctl) && isCtlSymbol(cp)) {
      out.pushCodePoint(unquote ? cp : cp - SYMBOL_OFFSET)
      continue
    }
    if (unquote) {
      // ‛XX is a raw byte, as written by encode for invalid UTF-8 (Go parses exactly two hex digits).
      if (has(mask, Enc.InvalidUtf8) && isHexDigit(cp) && isHexDigit(cps[i + 1])) {
        out.pushByte(parseInt(String.fromCodePoint(cp, cps[i + 1]!), 16))
        skipNext = true
        continue
      }
      // Not a quote after all: keep it.
      out.pushCodePoint(QUOTE)
    }
    out.pushCodePoint(cp)
  }
  if (unquoteNext) out.pushCodePoint(QUOTE)
  out.push(suffix)
  return out.toString()
}

/** Local (FUSE) name → the name stored at 1fichier, as rclone's fichier backend would store it. */
export function encodeName(name: string): string {
  return encodeWith(FICHIER_ENCODING, name)
}

/** Name stored at 1fichier → local (FUSE) name; the inverse of encodeName. */
export function decodeName(stored: string): string {
  return decodeWith(FICHIER_ENCODING, stored)
}

// §8: characters 1fichier refuses anywhere in a name.
const SERVICE_FORBIDDEN = new Set(['"', "'", '<', '>', '$', '\\', '`', '/'])

/**
 * True if 1fichier would refuse `name` as given (§8): it contains `" ' < > $ \` `` ` `` or `/`,
 * a control character (C0 or DEL), or starts with a space. encodeName never returns such a name.
 */
export function forbiddenOnService(name: string): boolean {
  if (name.startsWith(' ')) return true
  for (const ch of name) {
    if (SERVICE_FORBIDDEN.has(ch)) return true
    const c = ch.codePointAt(0)!
    if (c <= 0x1f || c === 0x7f) return true
  }
  return false
}

/** The longest file name we send (one TS client truncates at 255; the service says nothing). */
export const MAX_NAME_BYTES = 255

/**
 * A local name as 1fichier will store it (rclone-compatible encoding), or an error right away
 * when the service would refuse it: too long (files: 255 bytes once encoded, the common client
 * limit; folders: 250 characters, the documented one), empty, or holding `/` or NUL.
 */
export function encodeForService(name: string, kind: 'file' | 'folder'): string {
  if (name === '' || name.includes('/') || name.includes('\0')) {
    throw new FichierApiError(ApiErrorCodes.invalidName, `invalid name "${name}"`, { endpoint: 'names', errno: 'EINVAL' })
  }
  const encoded = encodeName(name)
  const tooLong = kind === 'file' ? Buffer.byteLength(encoded) > MAX_NAME_BYTES : [...encoded].length > LIMITS.maxFolderNameLength
  if (tooLong) {
    const limit = kind === 'file' ? `${MAX_NAME_BYTES} bytes` : `${LIMITS.maxFolderNameLength} characters`
    throw new FichierApiError(ApiErrorCodes.invalidName, `name too long for 1fichier (max ${limit} once encoded): ${name.slice(0, 40)}…`, { endpoint: 'names', errno: 'ENAMETOOLONG' })
  }
  return encoded
}

