import type { PresenceMember } from '@parley/protocol'

/** A page of a room's members: ordered by user id, and whether more follow it. */
export interface MembersPage {
  readonly members: readonly PresenceMember[]
  readonly more: boolean
}

/** Members a `members` request gets without a `limit`. */
export const DEFAULT_MEMBERS_PAGE = 100

const byUser = (a: PresenceMember, b: PresenceMember): number => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)

/**
 * The members after `after` (a user id; from the first without it), at most `limit`, and no more than fit in
 * `budgetBytes` of JSON (presence metadata may be large): at least one, so paging always moves on. The order is by
 * user id, so pages asked one after another see every member once, whoever joins or leaves meanwhile.
 */
export function membersPage(all: readonly PresenceMember[], after: string | undefined, limit: number, budgetBytes: number): MembersPage {
  const sorted = [...all].sort(byUser)
  const start = after === undefined ? 0 : sorted.findIndex((member) => member.user > after)
  if (start === -1) return { members: [], more: false }
  const page: PresenceMember[] = []
  let bytes = 0
  for (let i = start; i < sorted.length && page.length < limit; i++) {
    const member = sorted[i] as PresenceMember
    const size = Buffer.byteLength(JSON.stringify(member)) + 1
    if (page.length > 0 && bytes + size > budgetBytes) break
    bytes += size
    page.push(member)
  }
  return { members: page, more: start + page.length < sorted.length }
}
