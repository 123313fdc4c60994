import type { WelcomeMessage } from '@parley/protocol'
import type { Client } from './create-client.js'
import type { ClientState } from './state.js'

/** What a client's getters read, kept up to date by the client as it connects, is welcomed and reconnects. */
export class ClientView {
  state: ClientState = 'connecting'
  /** The URL of the current (or last) connection attempt. */
  url: string
  /** The last `welcome`. */
  welcome: WelcomeMessage | undefined = undefined
  /** The transport of the last welcomed connection. */
  transportName: string | undefined = undefined

  constructor(url: string) {
    this.url = url
  }
}

/**
 * Where a client keeps its view: a symbol-keyed property, not a `#private` field, so the getters also work on a
 * Proxy of the client (Vue's `reactive()`, say), which a private field's brand check would refuse.
 */
const VIEW = Symbol('parley.client.view')

/** The methods of a client: own properties, so `const { join } = client` keeps working. */
export type ClientMethods = Pick<Client, 'on' | 'off' | 'join' | 'request' | 'close'>

// The client's methods, assigned in the constructor (declaration merging types them).
export interface ClientHandle extends ClientMethods {}

/**
 * The object `createClient()` returns: a class with its getters on the prototype, so each client is a plain object
 * in V8's fast mode, not a getter-bearing literal kept as a dictionary (docs/benchmarks.md, "The client's own
 * cost"). Its methods are own properties (closures over the client), as before; its state (`state`, `url`,
 * `session`, ...) is read through getters, so a spread or `Object.keys` of the client no longer lists it.
 */
export class ClientHandle {
  readonly [VIEW]: ClientView

  constructor(view: ClientView, methods: ClientMethods) {
    this[VIEW] = view
    Object.assign(this, methods)
  }

  get state(): ClientState {
    return this[VIEW].state
  }

  get url(): string {
    return this[VIEW].url
  }

  get protocol(): string | undefined {
    return this[VIEW].welcome?.protocol
  }

  get transport(): string | undefined {
    return this[VIEW].transportName
  }

  get version(): number | undefined {
    return this[VIEW].welcome?.version
  }

  get session(): string | undefined {
    return this[VIEW].welcome?.session
  }

  get user(): string | undefined {
    return this[VIEW].welcome?.user
  }

  get welcome(): WelcomeMessage | undefined {
    return this[VIEW].welcome
  }
}
