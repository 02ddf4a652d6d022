/**
 * The control socket of a running mount: a unix socket (mode 0600, in a 0700 runtime dir)
 * speaking JSON lines. `fichfs status` and `fichfs unmount` use it.
 *
 *   -> {"cmd":"status"}                 <- {"ok":true,"status":{...}}
 *   -> {"cmd":"unmount","wait":true}    <- {"progress":{...}} ... {"ok":true,"done":true}
 */
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, realpathSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { scrubSecrets } from '../log.js'
import { runtimeDir } from './config.js'

/** The socket of the mount at `mountpoint`, in `dir` (default: this user's runtime dir). */
export function socketPathFor(mountpoint: string, dir?: string): string {
  let real = resolve(mountpoint)
  try {
    real = realpathSync(real)
  } catch {
    // A stale mountpoint cannot be resolved; the plain absolute path names the same socket.
  }
  return join(dir ?? runtimeDir(), `${createHash('sha256').update(real).digest('hex').slice(0, 16)}.sock`)
}

export function listSockets(): string[] {
  const dir = runtimeDir()
  return readdirSync(dir).filter((name) => name.endsWith('.sock')).map((name) => join(dir, name))
}

export type ControlHandler = (request: Record<string, unknown>, send: (message: Record<string, unknown>) => void) => Promise<void>

export function serveControl(path: string, handler: ControlHandler): Server {
  if (existsSync(path)) rmSync(path, { force: true })
  const server = createServer((socket: Socket) => {
    let buffer = ''
    socket.setEncoding('utf8')
    socket.on('error', () => undefined)
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        let request: Record<string, unknown>
        try {
          request = JSON.parse(line) as Record<string, unknown>
        } catch {
          socket.end(`${JSON.stringify({ ok: false, error: 'bad request' })}\n`)
          return
        }
        const send = (message: Record<string, unknown>) => {
          if (!socket.destroyed) socket.write(`${scrubSecrets(JSON.stringify(message))}\n`)
        }
        handler(request, send)
          .catch((error: unknown) => send({ ok: false, error: (error as Error).message }))
          .finally(() => socket.end())
      }
    })
  })
  const previous = process.umask(0o177)
  server.listen(path, () => {
    process.umask(previous)
    chmodSync(path, 0o600)
  })
  return server
}

/** Send one request; `onMessage` sees every line; resolves with the last one. */
export function requestControl(path: string, request: Record<string, unknown>, onMessage?: (message: Record<string, unknown>) => void, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(path)
    let buffer = ''
    let last: Record<string, unknown> | undefined
    let timer = setTimeout(() => socket.destroy(new Error('the mount did not answer')), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('data', (chunk: string) => {
      clearTimeout(timer)
      // Progress keeps coming during a long unmount: only silence times out.
      timer = setTimeout(() => socket.destroy(new Error('the mount stopped answering')), Math.max(timeoutMs, 60_000))
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>
        buffer = buffer.slice(newline + 1)
        last = message
        onMessage?.(message)
      }
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      if (last) resolvePromise(last)
      else reject(new Error('the mount closed the connection without answering'))
    })
  })
}
