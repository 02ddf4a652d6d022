/**
 * `fichfs info`: the account's email, offer and storage. 1fichier allows one user/info a
 * minute per IP, so an answer less than a minute old (from `fichfs login`, a mount's statfs or
 * an earlier `fichfs info`) is shown instead of asking again.
 */
import type { Argv, CommandModule } from 'yargs'
import type { AccountInfo } from '../../client/types.js'
import { DEFAULT_PACER_OPTIONS } from '../../client/pacer.js'
import { formatBytes, printJson } from '../format.js'
import { accountOptions, withAccount, type AccountArgs, type AccountSession } from '../options.js'

interface InfoArgs extends AccountArgs {
  json: boolean
}

const OFFERS: Record<number, string> = { 0: 'Free', 1: 'Premium', 2: 'Access', 3: 'Premium GOLD' }

export function offerName(offer: number): string {
  return OFFERS[offer] ?? `offer ${offer}`
}

export const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info',
  describe: 'Show the account: email, offer, storage used and available',
  builder: (yargs) => accountOptions(yargs)
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON (exact byte counts)' }) as unknown as Argv<InfoArgs>,
  handler: async (args) => {
    const { info, at } = await withAccount(args, accountInfo)
    if (args.json) {
      printJson({ ...info, offerName: offerName(info.offer), asOf: new Date(at).toISOString() })
      return
    }
    const lines = [
      ['Account', info.email || '(no email given)'],
      ['Offer', offerName(info.offer)],
      ['Used', formatBytes(info.usedBytes)],
      ['Available', `${formatBytes(info.freeBytes)} of ${formatBytes(info.quotaBytes)}`],
    ]
    if (info.subscriptionEnd) lines.push(['Subscription ends', info.subscriptionEnd])
    const width = Math.max(...lines.map(([label]) => (label as string).length)) + 1
    process.stdout.write(lines.map(([label, value]) => `${`${label}:`.padEnd(width + 1)}${value}`).join('\n') + '\n')
  },
}

/** A recent cached answer, else user/info (and remember it for the mount and the next command). */
export async function accountInfo(session: AccountSession): Promise<{ info: AccountInfo; at: number }> {
  const cached = session.store.getFact<AccountInfo>('account')
  const maxAge = DEFAULT_PACER_OPTIONS.userInfoIntervalMs / session.scale
  if (cached && Date.now() - cached.updatedAt < maxAge) {
    session.log.debug({ ageMs: Date.now() - cached.updatedAt }, 'account info from the cache')
    return { info: cached.value, at: cached.updatedAt }
  }
  const info = await session.client.accountInfo()
  session.store.setFact('account', info)
  return { info, at: Date.now() }
}
