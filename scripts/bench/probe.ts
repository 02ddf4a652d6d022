/**
 * The benchmarks' plain client, run as a child process so that it does not share an event loop
 * with the in-process emulator it measures (the mount daemon does not either). It speaks the
 * 1fichier wire format with nothing but node:http, and prints one JSON line.
 *
 *   probe.js get --api URL [--gap-ms N] [--first-byte] FILE_URL...   get_token each, then GET them all at once
 *   probe.js upload --api URL --file PATH --name NAME [--folder ID]  get_upload_server, upload.cgi, end.pl
 *   probe.js first-byte PATH                                         open a local (mounted) file, read 1 byte
 *
 * The API key comes from FICHFS_API_KEY, never from the command line.
 */
import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { Agent, request, type IncomingMessage } from 'node:http'
import { basename } from 'node:path'
import { PassThrough } from 'node:stream'
import { parseArgs } from 'node:util'

const agent = new Agent({ keepAlive: true })
const key = process.env.FICHFS_API_KEY ?? ''
const now = () => performance.now()
const ms = (value: number) => Number(value.toFixed(1))
const sleep = (delay: number) => new Promise<void>((done) => setTimeout(done, delay))

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: string
}

function send(url: string, options: { method: string; headers?: Record<string, string>; body?: string | NodeJS.ReadableStream }): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request(url, { method: options.method, headers: options.headers, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', fail)
    })
    req.on('error', fail)
    if (typeof options.body === 'string' || options.body === undefined) req.end(options.body)
    else options.body.pipe(req)
  })
}

async function api(base: string, path: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = await send(`${base}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  })
  const parsed = JSON.parse(answer.body) as Record<string, unknown>
  if (answer.status !== 200 || parsed.status === 'KO') throw new Error(`${path}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`)
  return parsed
}

interface Download {
  bytes: number
  /** From this file's get_token request to the first body byte. */
  ttfbMs: number
  tokenMs: number
  /** From the GET to the first body byte. */
  getTtfbMs: number
  totalMs: number
}

/** GET a token URL to the end (or to its first byte), counting bytes, keeping none. */
function download(url: string, firstByteOnly: boolean): Promise<{ bytes: number; ttfbMs: number; totalMs: number }> {
  return new Promise((done, fail) => {
    const t0 = now()
    let bytes = 0
    let ttfb = -1
    const req = request(url, { method: 'GET', agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        fail(new Error(`GET ${url}: HTTP ${res.statusCode}`))
        return
      }
      res.on('data', (chunk: Buffer) => {
        if (ttfb < 0) ttfb = now() - t0
        bytes += chunk.length
        if (firstByteOnly) {
          res.destroy()
          done({ bytes, ttfbMs: ttfb, totalMs: now() - t0 })
        }
      })
      res.on('end', () => done({ bytes, ttfbMs: ttfb, totalMs: now() - t0 }))
      res.on('error', (error) => (firstByteOnly ? undefined : fail(error)))
    })
    req.on('error', (error) => (firstByteOnly && ttfb >= 0 ? undefined : fail(error)))
    req.end()
  })
}

async function getFiles(base: string, urls: string[], gapMs: number, firstByte: boolean) {
  const t0 = now()
  const cpu0 = process.cpuUsage()
  // Tokens one after another, spaced: this process shares the flood budget of the caller's IP.
  const tokens: Array<{ url: string; tokenMs: number; startedAt: number }> = []
  for (const [index, url] of urls.entries()) {
    if (index > 0 && gapMs > 0) await sleep(gapMs)
    const t1 = now()
    const answer = await api(base, 'download/get_token.cgi', { url, single: 0 })
    tokens.push({ url: String(answer.url), tokenMs: now() - t1, startedAt: t1 })
  }
  const transferStart = now()
  const results: Download[] = await Promise.all(tokens.map(async (token) => {
    const got = await download(token.url, firstByte)
    return {
      bytes: got.bytes,
      ttfbMs: ms(transferStart - token.startedAt + got.ttfbMs),
      tokenMs: ms(token.tokenMs),
      getTtfbMs: ms(got.ttfbMs),
      totalMs: ms(got.totalMs),
    }
  }))
  const end = now()
  return {
    files: results,
    bytes: results.reduce((sum, item) => sum + item.bytes, 0),
    /** Tokens and transfers: what a reader of these files would wait. */
    wallMs: ms(end - t0),
    transferMs: ms(end - transferStart),
    /** This client's CPU time (user + system) over the same span. */
    cpuMs: cpuMsSince(cpu0),
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return Math.round((used.user + used.system) / 1000)
}

async function upload(base: string, path: string, name: string, folder: number) {
  const size = (await stat(path)).size
  const t0 = now()
  const server = await send(`${base}/upload/get_upload_server.cgi`, {
    method: 'GET',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  })
  const node = JSON.parse(server.body) as { url?: string; id?: string }
  if (server.status !== 200 || !node.url || !node.id) throw new Error(`get_upload_server: HTTP ${server.status} ${server.body.slice(0, 200)}`)
  const t1 = now()
  // The node refuses a quoted boundary; it wants quoted name and filename (shared/1fichier-api.md §5).
  const boundary = `----fichfsbench${Date.now().toString(36)}`
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="did"\r\n\r\n${folder}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file[]"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  const length = Buffer.byteLength(head) + size + Buffer.byteLength(tail)
  const body = new PassThrough({ highWaterMark: 1 << 20 })
  const posted = send(`http://${node.url}/upload.cgi?id=${encodeURIComponent(node.id)}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(length),
    },
    body,
  })
  body.write(head)
  await new Promise<void>((done, fail) => {
    const file = createReadStream(path, { highWaterMark: 1 << 20 })
    file.on('error', fail)
    file.on('end', () => done())
    file.pipe(body, { end: false })
  })
  body.end(tail)
  const answer = await posted
  if (answer.status !== 302) throw new Error(`upload.cgi: HTTP ${answer.status} ${answer.body.slice(0, 200)}`)
  const t2 = now()
  const end = await send(`http://${node.url}/end.pl?xid=${encodeURIComponent(node.id)}`, {
    method: 'GET',
    headers: { authorization: `Bearer ${key}`, JSON: '1' },
  })
  const t3 = now()
  if (end.status !== 200) throw new Error(`end.pl: HTTP ${end.status} ${end.body.slice(0, 200)}`)
  const links = (JSON.parse(end.body) as { links?: Array<{ download: string; size: string }> }).links ?? []
  return {
    bytes: size,
    serverMs: ms(t1 - t0),
    uploadMs: ms(t2 - t1),
    endMs: ms(t3 - t2),
    totalMs: ms(t3 - t0),
    links,
  }
}

/** Open a file and read its first byte: time to first byte through the mount, cold. */
async function firstByte(path: string) {
  const t0 = now()
  const file = await open(path, 'r')
  const t1 = now()
  const { bytesRead } = await file.read(Buffer.alloc(1), 0, 1, 0)
  const t2 = now()
  await file.close()
  return { path: basename(path), bytes: bytesRead, openMs: ms(t1 - t0), ttfbMs: ms(t2 - t0) }
}

async function run(): Promise<unknown> {
  const [command, ...rest] = process.argv.slice(2)
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      'gap-ms': { type: 'string', default: '0' },
      'first-byte': { type: 'boolean', default: false },
      file: { type: 'string' },
      name: { type: 'string' },
      folder: { type: 'string', default: '0' },
    },
  })
  const base = values.api ?? ''
  switch (command) {
    case 'get':
      return getFiles(base, positionals, Number(values['gap-ms']), values['first-byte'])
    case 'upload':
      return upload(base, values.file ?? '', values.name ?? 'upload.bin', Number(values.folder))
    case 'first-byte':
      return firstByte(positionals[0] ?? '')
    default:
      throw new Error(`unknown probe command ${String(command)}`)
  }
}

run().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    agent.destroy()
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  },
)
