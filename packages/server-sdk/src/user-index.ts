import type { Session } from './session.js'

/**
 * This node's sessions by user id, for the per-user connection cap and direct messages. A user with one session
 * (the usual case) maps to the session itself, so an idle connection costs no Set of its own.
 */
export class UserIndex {
  readonly #byUser = new Map<string, Session | Set<Session>>()

  /** Connections of a user on this node. */
  count(user: string): number {
    const entry = this.#byUser.get(user)
    return entry === undefined ? 0 : entry instanceof Set ? entry.size : 1
  }

  /** Calls `visit` for each of the user's sessions on this node. */
  forEach(user: string, visit: (session: Session) => void): void {
    const entry = this.#byUser.get(user)
    if (entry instanceof Set) for (const session of entry) visit(session)
    else if (entry !== undefined) visit(entry)
  }

  add(session: Session): void {
    const id = session.user.id
    const entry = this.#byUser.get(id)
    if (entry === undefined) this.#byUser.set(id, session)
    else if (entry instanceof Set) entry.add(session)
    else if (entry !== session) this.#byUser.set(id, new Set([entry, session]))
  }

  delete(session: Session): void {
    const id = session.user.id
    const entry = this.#byUser.get(id)
    if (entry === session) {
      this.#byUser.delete(id)
    } else if (entry instanceof Set) {
      entry.delete(session)
      if (entry.size === 1) this.#byUser.set(id, entry.values().next().value as Session)
      else if (entry.size === 0) this.#byUser.delete(id)
    }
  }
}
