import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  API_DATE, FILE_URL, KO_MESSAGE, api, getToken, mkdir, parisNow, secondsApart, startTestEmulator, uploadOne, type TestEmulator,
} from './helpers.js'

let t: TestEmulator
beforeAll(async () => {
  t = await startTestEmulator()
})
afterAll(async () => {
  await t.dispose()
})

const keys = (value: object) => Object.keys(value).sort()

function expectKo(answer: { status: number; json: any }, httpStatus: number, message?: string | RegExp) {
  expect(answer.status).toBe(httpStatus)
  expect(keys(answer.json)).toEqual(['message', 'status'])
  expect(answer.json.status).toBe('KO')
  expect(answer.json.message).toMatch(KO_MESSAGE)
  if (typeof message === 'string') expect(answer.json.message).toBe(message)
  else if (message) expect(answer.json.message).toMatch(message)
}

describe('transport', () => {
  it('answers JSON with the nginx headers', async () => {
    const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(answer.headers.get('server')).toBe('nginx')
  })

  it('refuses a wrong, missing or oddly spelled key with 401 #247', async () => {
    for (const authorization of ['Bearer wrong', null, `bearer ${t.emu.apiKey}`, t.emu.apiKey, `Bearer  ${t.emu.apiKey}`]) {
      const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: 0 }, { authorization })
      expect(answer.status).toBe(401)
      expect(answer.text).toBe('{"status":"KO","message":"Not authenticated #247"}')
    }
    expect(t.emu.stats().authFailures).toBeGreaterThanOrEqual(5)
  })

  it('requires Content-Type: application/json, even on GET', async () => {
    expectKo(await api(t.emu, 'folder/ls.cgi', { folder_id: 0 }, { contentType: null }), 400)
    expectKo(await api(t.emu, 'folder/ls.cgi', { folder_id: 0 }, { contentType: 'text/plain' }), 400)
    expectKo(await api(t.emu, 'upload/get_upload_server.cgi', undefined, { method: 'GET', contentType: null }), 400)
    expect((await api(t.emu, 'folder/ls.cgi', { folder_id: 0 }, { contentType: 'application/json; charset=utf-8' })).status).toBe(200)
  })

  it('refuses invalid JSON, non-object bodies and missing bodies', async () => {
    expectKo(await api(t.emu, 'folder/ls.cgi', undefined, { rawBody: '{"folder_id":' }), 400)
    expectKo(await api(t.emu, 'folder/ls.cgi', undefined, { rawBody: '[1]' }), 400)
    expectKo(await api(t.emu, 'folder/ls.cgi', undefined, { rawBody: '' }), 400)
  })

  it('accepts an empty body where the doc allows one', async () => {
    for (const path of ['user/info.cgi', 'upload/get_upload_server.cgi', 'remote/ls.cgi']) {
      expect((await api(t.emu, path, undefined, { rawBody: '' })).status, path).toBe(200)
    }
  })

  it('only takes POST, except GET on get_upload_server', async () => {
    expectKo(await api(t.emu, 'folder/ls.cgi', undefined, { method: 'GET' }), 405)
    expect((await api(t.emu, 'upload/get_upload_server.cgi', undefined, { method: 'GET' })).status).toBe(200)
  })

  it('answers unknown calls with a KO 404', async () => {
    expectKo(await api(t.emu, 'file/scan.cgi', {}), 404)
  })

  it('indents with pretty:1', async () => {
    const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: 0, pretty: 1 })
    expect(answer.text).toContain('\n   "status": "OK"')
  })

  it('refuses wrong JSON types instead of coercing them', async () => {
    expectKo(await api(t.emu, 'folder/ls.cgi', { folder_id: '0' }), 400, /folder_id/)
    expectKo(await api(t.emu, 'folder/ls.cgi', { folder_id: 0, files: true }), 400, /files/)
  })
})

describe('user/info.cgi', () => {
  it('matches the doc example type by type', async () => {
    const answer = await api(t.emu, 'user/info.cgi')
    expect(answer.status).toBe(200)
    const info = answer.json
    const strings = ['stats_date', 'mail_rm', 'upload_forbidden', 'status', 'use_cdn', 'default_port', 'email', 'download_menu',
      'default_port_files', 'ftp_report', 'cdn', 'offer', 'subscription_end', '2fa', 'ftp_mode', 'ru_report']
    const integers = ['default_quota', 'cold_storage', 'available_cold_storage', 'overquota', 'available_storage', 'allowed_cold_storage',
      'hot_storage', 'default_cold_storage_quota', 'page_limit', 'default_domain', 'ftp_did']
    expect(keys(info)).toEqual([...strings, ...integers].sort())
    for (const key of strings) expect(typeof info[key], key).toBe('string')
    for (const key of integers) expect(Number.isInteger(info[key]), key).toBe(true)
    expect(info.status).toBe('OK')
    expect(info.email).toBe('demo@fichfs.invalid')
    expect(info.available_cold_storage).toBe(100 * 1024 ** 3)
    expect(info.subscription_end).toMatch(API_DATE)
    expect(info.stats_date).toMatch(API_DATE)
  })
})

describe('folders', () => {
  let backup: number
  let nested: number

  it('mkdir answers {status, folder_id, name}', async () => {
    const answer = await api(t.emu, 'folder/mkdir.cgi', { name: 'backup', folder_id: 0 })
    expect(answer.status).toBe(200)
    expect(keys(answer.json)).toEqual(['folder_id', 'name', 'status'])
    expect(answer.json.status).toBe('OK')
    expect(answer.json.name).toBe('backup')
    expect(Number.isInteger(answer.json.folder_id)).toBe(true)
    backup = answer.json.folder_id
    nested = await mkdir(t.emu, 'nested', backup)
  })

  it('mkdir refuses a sibling with the same name, bad names and a missing parent', async () => {
    expectKo(await api(t.emu, 'folder/mkdir.cgi', { name: 'backup', folder_id: 0 }), 200, /#707$/)
    for (const name of ['', ' lead', 'a/b', 'a$b', 'x'.repeat(251)]) {
      expectKo(await api(t.emu, 'folder/mkdir.cgi', { name, folder_id: 0 }), 200, /#706$/)
    }
    expectKo(await api(t.emu, 'folder/mkdir.cgi', { name: 'x', folder_id: 999 }), 404, 'Resource not found #469')
    expectKo(await api(t.emu, 'folder/mkdir.cgi', { name: 'x' }), 400, /folder_id/)
  })

  it('ls of the root matches the public capture (rclone#5152): "Root", a null size, no create_date or pass', async () => {
    const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
    const root = answer.json
    expect(keys(root)).toEqual(['files', 'folder_id', 'name', 'size', 'status', 'sub_folders'])
    expect(root).toMatchObject({ status: 'OK', folder_id: 0, name: 'Root', size: null })
    // Another folder carries its own date, flag and size.
    const other = (await api(t.emu, 'folder/ls.cgi', { folder_id: backup })).json
    expect(keys(other)).toEqual(['create_date', 'files', 'folder_id', 'name', 'pass', 'size', 'status', 'sub_folders'])
    expect(other).toMatchObject({ folder_id: backup, name: 'backup', pass: 0, size: 0, files: 0 })
    expect(other.create_date).toMatch(API_DATE)
    const sub = root.sub_folders.find((folder: any) => folder.name === 'backup')
    expect(keys(sub)).toEqual(['create_date', 'id', 'name', 'pass'])
    expect(sub.id).toBe(backup)
    expect(sub.pass).toBe(0)
    expect(sub.create_date).toMatch(API_DATE)
    expect(secondsApart(sub.create_date, parisNow())).toBeLessThan(30)
  })

  it('ls of an empty folder has sub_folders: [] and no items unless files:1', async () => {
    const plain = await api(t.emu, 'folder/ls.cgi', { folder_id: nested })
    expect(plain.json.sub_folders).toEqual([])
    expect(plain.json).not.toHaveProperty('items')
    expect(plain.json.files).toBe(0)
    expect(plain.json.size).toBe(0)
    const withFiles = await api(t.emu, 'folder/ls.cgi', { folder_id: nested, files: 1 })
    expect(withFiles.json.items).toEqual([])
  })

  it('ls of a missing folder is 404 #469', async () => {
    expectKo(await api(t.emu, 'folder/ls.cgi', { folder_id: 424242 }), 404, 'Resource not found #469')
  })

  it('mv renames, moves, refuses cycles and reports #312 when nothing changes', async () => {
    expectKo(await api(t.emu, 'folder/mv.cgi', { folder_id: backup, destination_folder_id: nested }), 200, /#710$/)
    expectKo(await api(t.emu, 'folder/mv.cgi', { folder_id: backup, destination_folder_id: backup }), 200, /#710$/)
    expectKo(await api(t.emu, 'folder/mv.cgi', { folder_id: nested, destination_folder_id: backup }), 200, /#312$/)
    expectKo(await api(t.emu, 'folder/mv.cgi', { folder_id: 0, rename: 'x' }), 200, /#709$/)

    const renamed = await api(t.emu, 'folder/mv.cgi', { folder_id: nested, destination_folder_id: backup, destination_user: '', rename: 'inner' })
    expect(renamed.json).toEqual({ status: 'OK', old_name: 'nested', new_name: 'inner' })
    // No destination: the root (rclone omits 0).
    const toRoot = await api(t.emu, 'folder/mv.cgi', { folder_id: nested })
    expect(toRoot.json).toEqual({ status: 'OK', old_name: 'inner', new_name: 'inner' })
    const rootList = await api(t.emu, 'folder/ls.cgi', { folder_id: 0 })
    expect(rootList.json.sub_folders.map((folder: any) => folder.name)).toContain('inner')
  })

  it('rm refuses the root and non-empty folders, removes empty ones', async () => {
    const parent = await mkdir(t.emu, 'to-remove')
    const child = await mkdir(t.emu, 'child', parent)
    expectKo(await api(t.emu, 'folder/rm.cgi', { folder_id: 0 }), 200, /#709$/)
    expectKo(await api(t.emu, 'folder/rm.cgi', { folder_id: parent }), 200, /#708$/)
    expect((await api(t.emu, 'folder/rm.cgi', { folder_id: child })).json).toEqual({ status: 'OK' })
    expect((await api(t.emu, 'folder/rm.cgi', { folder_id: parent })).json).toEqual({ status: 'OK' })
    expectKo(await api(t.emu, 'folder/rm.cgi', { folder_id: parent }), 404, 'Resource not found #469')
  })
})

describe('files', () => {
  let folder: number
  let url: string

  beforeAll(async () => {
    folder = await mkdir(t.emu, 'files-test')
    url = (await uploadOne(t.emu, 'hello.txt', 'hello world!', folder)).download
  })

  it('file/ls items match the real capture field by field', async () => {
    const answer = await api(t.emu, 'file/ls.cgi', { folder_id: folder })
    expect(keys(answer.json)).toEqual(['count', 'items', 'status'])
    expect(answer.json.status).toBe('OK')
    expect(answer.json.count).toBe(1)
    const [item] = answer.json.items
    expect(keys(item)).toEqual(['acl', 'cdn', 'checksum', 'content-type', 'date', 'filename', 'pass', 'size', 'url'])
    expect(item).toMatchObject({ pass: 0, acl: 0, cdn: 0, size: 12, filename: 'hello.txt', url, 'content-type': 'text/plain' })
    expect(item.url).toMatch(FILE_URL)
    expect(item.checksum).toMatch(/^[0-9a-f]{128}$/)
    expect(item.date).toMatch(API_DATE)
    expect(secondsApart(item.date, parisNow())).toBeLessThan(30)
  })

  it('folder/ls with files:1 lists the same items and counts them', async () => {
    const answer = await api(t.emu, 'folder/ls.cgi', { folder_id: folder, files: 1 })
    const listing = await api(t.emu, 'file/ls.cgi', { folder_id: folder })
    expect(answer.json.items).toEqual(listing.json.items)
    expect(answer.json.files).toBe(1)
    expect(answer.json.size).toBe(12)
  })

  it('file/ls: root by default, -1 for everything, 404 for a missing folder', async () => {
    await uploadOne(t.emu, 'at-root.bin', 'root bytes')
    const root = await api(t.emu, 'file/ls.cgi', {})
    expect(root.json.items.map((item: any) => item.filename)).toContain('at-root.bin')
    expect(root.json.items.map((item: any) => item.filename)).not.toContain('hello.txt')
    const all = await api(t.emu, 'file/ls.cgi', { folder_id: -1 })
    expect(all.json.items.map((item: any) => item.filename)).toEqual(expect.arrayContaining(['at-root.bin', 'hello.txt']))
    expectKo(await api(t.emu, 'file/ls.cgi', { folder_id: 31337 }), 404, 'Resource not found #469')
  })

  it('file/info has the doc example shape and no status', async () => {
    const answer = await api(t.emu, 'file/info.cgi', { url })
    expect(answer.status).toBe(200)
    expect(keys(answer.json)).toEqual(['acl', 'cdn', 'checksum', 'content-type', 'date', 'description', 'filename', 'folder_id', 'inline', 'no_ssl', 'pass', 'path', 'size', 'url'])
    expect(answer.json).toMatchObject({ url, filename: 'hello.txt', size: 12, pass: 0, cdn: 0, folder_id: folder, path: 'files-test', description: '', inline: 0, no_ssl: 0, acl: {} })
    expect(answer.json.date).toMatch(API_DATE)
  })

  it('file/info accepts the other URL forms and folder_id + filename', async () => {
    const id = url.split('?')[1]
    for (const form of [`http://1fichier.com/?${id}`, `https://www.1fichier.com/?${id}`, `https://${id}.1fichier.com/`]) {
      expect((await api(t.emu, 'file/info.cgi', { url: form })).json.url, form).toBe(url)
    }
    expect((await api(t.emu, 'file/info.cgi', { folder_id: folder, filename: 'hello.txt' })).json.url).toBe(url)
  })

  it('file/info of a missing file is 404 #469', async () => {
    expectKo(await api(t.emu, 'file/info.cgi', { url: 'https://1fichier.com/?zzzzzzzzzz' }), 404, 'Resource not found #469')
    expectKo(await api(t.emu, 'file/info.cgi', { url: 'not a url' }), 404, 'Resource not found #469')
  })

  it('file/rename renames and refuses the same name with #312', async () => {
    const answer = await api(t.emu, 'file/rename.cgi', { urls: [{ url, filename: 'renamed.txt' }], pretty: 0 })
    expect(answer.json).toEqual({ status: 'OK', renamed: 1, urls: [{ url, old_filename: 'hello.txt', new_filename: 'renamed.txt' }] })
    const same = await api(t.emu, 'file/rename.cgi', { urls: [{ url, filename: 'renamed.txt' }] })
    expect(same.status).toBe(200)
    expect(same.json).toEqual({ status: 'KO', message: 'No file has been renamed #312' })
    expectKo(await api(t.emu, 'file/rename.cgi', { urls: [{ url, filename: 'bad<name' }] }), 200, /#706$/)
  })

  it('file/mv moves (URL unchanged), renames one file, and #312 when nothing changes', async () => {
    const other = await mkdir(t.emu, 'mv-target')
    const same = await api(t.emu, 'file/mv.cgi', { urls: [url], destination_folder_id: folder })
    expect(same.status).toBe(200)
    expect(same.text).toBe('{"status":"KO","message":"No file has been renamed #312"}')

    const moved = await api(t.emu, 'file/mv.cgi', { urls: [url], destination_folder_id: other })
    expect(moved.json).toEqual({ status: 'OK', moved: 1, urls: [url] })
    const back = await api(t.emu, 'file/mv.cgi', { urls: [url], destination_folder_id: folder, rename: 'back.txt' })
    expect(back.json).toEqual({ status: 'OK', moved: 1, urls: [url], filename: 'back.txt' })
    const info = await api(t.emu, 'file/info.cgi', { url })
    expect(info.json).toMatchObject({ folder_id: folder, filename: 'back.txt' })

    expectKo(await api(t.emu, 'file/mv.cgi', { urls: [url] }), 400, /destination_folder_id/)
    expectKo(await api(t.emu, 'file/mv.cgi', { urls: [url], destination_folder_id: 999 }), 404, 'Resource not found #469')
    expectKo(await api(t.emu, 'file/mv.cgi', { urls: [url, url], destination_folder_id: other, rename: 'x' }), 200, /#712$/)
  })

  it('file/cp gives a new URL on the same bytes', async () => {
    const target = await mkdir(t.emu, 'cp-target')
    const answer = await api(t.emu, 'file/cp.cgi', { urls: [url], folder_id: target })
    expect(keys(answer.json)).toEqual(['copied', 'status', 'urls'])
    expect(answer.json.copied).toBe(1)
    const [pair] = answer.json.urls
    expect(keys(pair)).toEqual(['from_url', 'to_url'])
    expect(pair.from_url).toBe(url)
    expect(pair.to_url).toMatch(FILE_URL)
    expect(pair.to_url).not.toBe(url)
    const original = await api(t.emu, 'file/info.cgi', { url })
    const copy = await api(t.emu, 'file/info.cgi', { url: pair.to_url })
    expect(copy.json).toMatchObject({ folder_id: target, filename: original.json.filename, checksum: original.json.checksum, size: original.json.size })

    const renamed = await api(t.emu, 'file/cp.cgi', { urls: [url], folder_id: target, rename: 'copy2.txt' })
    expect(renamed.json.filename).toBe('copy2.txt')
    expectKo(await api(t.emu, 'file/cp.cgi', { urls: [url], destination_folder_id: target }), 400, /folder_id/)
  })

  it('file/chattr sets description, password and ACL', async () => {
    expectKo(await api(t.emu, 'file/chattr.cgi', { urls: [url], pass: 'short' }), 200, /#711$/)
    expectKo(await api(t.emu, 'file/chattr.cgi', { urls: [url] }), 200, /#716$/)
    const answer = await api(t.emu, 'file/chattr.cgi', { urls: [url], description: 'about', pass: 'secret1', acl: { country: ['FR'], premium: 1 } })
    expect(answer.json).toEqual({ status: 'OK', updated: 1, urls: [url] })
    const item = (await api(t.emu, 'file/ls.cgi', { folder_id: folder })).json.items.find((entry: any) => entry.url === url)
    expect(item).toMatchObject({ pass: 1, acl: 1 })
    const info = await api(t.emu, 'file/info.cgi', { url })
    expect(info.json).toMatchObject({ description: 'about', pass: 1, acl: { country: ['FR'], premium: 1 } })

    expectKo(await api(t.emu, 'download/get_token.cgi', { url }), 403, 'Password not provided. Resource not allowed #631')
    expectKo(await api(t.emu, 'download/get_token.cgi', { url, pass: 'wrong!!' }), 403, 'Invalid password. Resource not allowed #631')
    expect(await getToken(t.emu, url, { pass: 'secret1' })).toMatch(/\/[a-z]\d{10}$/)

    await api(t.emu, 'file/chattr.cgi', { urls: [url], pass: '', acl: {} })
    const cleared = (await api(t.emu, 'file/info.cgi', { url })).json
    expect(cleared).toMatchObject({ pass: 0, acl: {} })
  })

  it('file/rm removes and answers {status, removed}', async () => {
    const victim = (await uploadOne(t.emu, 'victim.txt', 'bye', folder)).download
    const answer = await api(t.emu, 'file/rm.cgi', { files: [{ url: victim }] })
    expect(answer.json).toEqual({ status: 'OK', removed: 1 })
    expectKo(await api(t.emu, 'file/info.cgi', { url: victim }), 404, 'Resource not found #469')
    expectKo(await api(t.emu, 'file/rm.cgi', { files: [{ url: victim }] }), 404, 'Resource not found #469')
  })

  it('allows duplicate file names in one folder', async () => {
    const dup = await mkdir(t.emu, 'dups')
    await uploadOne(t.emu, 'same.txt', 'one', dup)
    await uploadOne(t.emu, 'same.txt', 'two!', dup)
    const listing = await api(t.emu, 'file/ls.cgi', { folder_id: dup })
    expect(listing.json.count).toBe(2)
    expect(listing.json.items.map((item: any) => item.filename)).toEqual(['same.txt', 'same.txt'])
  })

  it('user/info reports the bytes used as cold_storage', async () => {
    const used = t.emu.tree().filter((entry) => entry.type === 'file').reduce((total, entry) => total + entry.size, 0)
    expect((await api(t.emu, 'user/info.cgi')).json.cold_storage).toBe(used)
  })
})

describe('get_upload_server', () => {
  it('answers {url, id} with no status, by GET and POST', async () => {
    for (const method of ['GET', 'POST']) {
      const answer = await api(t.emu, 'upload/get_upload_server.cgi', method === 'POST' ? { pretty: 1 } : undefined, { method })
      expect(keys(answer.json)).toEqual(['id', 'url'])
      expect(answer.json.url).toBe(t.emu.uploadHost)
      expect(answer.json.url).not.toMatch(/^https?:/)
      expect(answer.json.id).toMatch(/^[A-Za-z0-9]{10}$/)
    }
  })
})
