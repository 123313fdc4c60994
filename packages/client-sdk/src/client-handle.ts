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

/** The methods of a client: own properties, so `const { join } = client` keeps working. */
export type ClientMethods = Pick<Client, 'on' | 'off' | 'join' | 'request' | 'close'>

// The client's methods, assigned in the constructor (declaration merging types them).
export interface ClientHandle extends ClientMethods {}

/**
 * The object `createClient()` returns: a class with its getters on the prototype, so each client is a plain object
 * in V8's fast mode, not a getter-bearing literal kept as a dictionary (docs/benchmarks.md, "The client's own
 * cost"). Its methods are own properties (closures over the client), as before.
 */
export class ClientHandle {
  readonly #view: ClientView

  constructor(view: ClientView, methods: ClientMethods) {
    this.#view = view
    Object.assign(this, methods)
  }

  get state(): ClientState {
    return this.#view.state
  }

  get url(): string {
    return this.#view.url
  }

  get protocol(): string | undefined {
    return this.#view.welcome?.protocol
  }

  get transport(): string | undefined {
    return this.#view.transportName
  }

  get version(): number | undefined {
    return this.#view.welcome?.version
  }

  get session(): string | undefined {
    return this.#view.welcome?.session
  }

  get user(): string | undefined {
    return this.#view.welcome?.user
  }

  get welcome(): WelcomeMessage | undefined {
    return this.#view.welcome
  }
}
