import type { PresenceMember } from '@parley/protocol'

/** A page of a room's members: ordered by user id, and whether more follow it. */
export interface MembersPage {
  readonly members: readonly PresenceMember[]
  readonly more: boolean
}

/** Members a `members` request gets without a `limit`. */
export const DEFAULT_MEMBERS_PAGE = 100

/**
 * The members after `after` (a user id; from the first without it), at most `limit`, and no more than fit in
 * `budgetBytes` of JSON (presence metadata may be large): at least one, so paging always moves on. The order is by
 * user id, so pages asked one after another see every member once, whoever joins or leaves meanwhile.
 *
 * Every join of a large room asks for its first page, so this must not sort the whole room: it keeps the `limit`
 * smallest user ids in one pass (a sorted array, each newcomer placed by binary search), O(members + limit log limit)
 * instead of O(members log members) per join.
 */
export function membersPage(all: readonly PresenceMember[], after: string | undefined, limit: number, budgetBytes: number): MembersPage {
  const best: PresenceMember[] = []
  let candidates = 0
  for (const member of all) {
    if (after !== undefined && !(member.user > after)) continue
    candidates++
    if (best.length === limit && !(member.user < (best[limit - 1] as PresenceMember).user)) continue
    let low = 0
    let high = best.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((best[middle] as PresenceMember).user < member.user) low = middle + 1
      else high = middle
    }
    best.splice(low, 0, member)
    if (best.length > limit) best.pop()
  }
  const page = withinBudget(best, budgetBytes)
  return { members: page, more: candidates > page.length }
}

/** The first of `members` (in their order) whose JSON fits `budgetBytes`: at least one, so paging moves on. */
export function withinBudget(members: readonly PresenceMember[], budgetBytes: number): PresenceMember[] {
  const page: PresenceMember[] = []
  let bytes = 0
  for (const member of members) {
    const size = Buffer.byteLength(JSON.stringify(member)) + 1
    if (page.length > 0 && bytes + size > budgetBytes) break
    bytes += size
    page.push(member)
  }
  return page
}
