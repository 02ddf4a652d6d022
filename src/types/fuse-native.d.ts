// Minimal typings for fuse-native 2.2.6 (it ships none); only what fuse-adapter.ts uses.
declare module 'fuse-native' {
  type Callback = (code: number, ...values: unknown[]) => void
  export interface FuseOps { [op: string]: (...args: any[]) => void }
  export interface FuseOptions {
    force?: boolean
    mkdir?: boolean
    debug?: boolean
    allowOther?: boolean
    defaultPermissions?: boolean
    autoCache?: boolean
    fsname?: string
    subtype?: string
    timeout?: false | number
    entryTimeout?: number
    attrTimeout?: number
  }
  export default class Fuse {
    constructor(mountpoint: string, ops: FuseOps, options?: FuseOptions)
    mount(cb: (error: Error | null) => void): void
    unmount(cb: (error: Error | null) => void): void
    static unmount(mountpoint: string, cb: (error: Error | null) => void): void
  }
  export type { Callback }
}
