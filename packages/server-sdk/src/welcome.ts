import { encode, type ServerMessageOf } from '@parley/protocol'
import type { ResolvedOptions } from './options.js'
import type { Session } from './session.js'
import { Frame } from './transports/connection.js'

/** A session id of the right form, for the checked template (never sent). */
const TEMPLATE_SESSION = '0000000000000000'

/**
 * The `welcome` frames of one instance. All but the session id and the user id are the same for every session of
 * a subprotocol, so each subprotocol's welcome is encoded (and checked) once, and a session's is that text with its
 * two ids spliced in: the ids are ones Parley made or `authenticate` returned and checked against the id pattern.
 * Encoding each welcome afresh was 3 % of a server's CPU while connections are set up.
 */
export class WelcomeFrames {
  readonly #options: ResolvedOptions
  readonly #capabilities: readonly string[]
  /** By subprotocol: the welcome after `"session":"…"` and before its closing brace. */
  readonly #tails = new Map<string, string>()

  constructor(options: ResolvedOptions, capabilities: readonly string[]) {
    this.#options = options
    this.#capabilities = capabilities
  }

  /** The message as the protocol defines it (what the template is made of, and what tests compare with). */
  message(session: Session): ServerMessageOf<'welcome'> {
    const { limits } = this.#options
    return {
      type: 'welcome',
      session: session.id,
      protocol: session.connection.protocol,
      version: session.version,
      heartbeat: this.#options.heartbeat,
      limits: { maxPayload: limits.maxPayload, maxRooms: limits.maxRooms, rate: limits.rate },
      capabilities: this.#capabilities,
      ...(session.authenticated ? { user: session.user.id } : {}),
    }
  }

  frameFor(session: Session): Frame {
    const protocol = session.connection.protocol
    let tail = this.#tails.get(protocol)
    if (tail === undefined) {
      const { user: _user, ...message } = this.message(session)
      const text = encode({ ...message, session: TEMPLATE_SESSION }, { limits: this.#options.encodeLimits })
      const head = `{"type":"welcome","session":"${TEMPLATE_SESSION}"`
      if (!text.startsWith(head)) throw new Error(`welcome template: unexpected encoding ${text.slice(0, 60)}`)
      tail = text.slice(head.length, -1)
      this.#tails.set(protocol, tail)
    }
    const user = session.authenticated ? `,"user":${JSON.stringify(session.user.id)}` : ''
    return new Frame(`{"type":"welcome","session":${JSON.stringify(session.id)}${tail}${user}}`)
  }
}
