/**
 * The environment given to child processes (fusermount, a detached daemon): the caller's,
 * without the API key. A child has no use for the key, and an environment is readable by the
 * user's other processes (/proc/PID/environ) for the child's whole life.
 */
export const KEY_VARIABLE = 'FICHFS_API_KEY'

export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env }
  delete copy[KEY_VARIABLE]
  return copy
}
