import type { WelcomeMessage } from '@parley/protocol'
import { defineBoundMethods, type BoundMethodsCache } from './bound-methods.js'
import type { Client, ClientEvents, JoinOptions, RequestOptions } from './create-client.js'
import type { Room } from './room.js'
import type { ClientState } from './state.js'

/** What a client handle reads and calls: the client's core, kept up to date as it connects, is welcomed and reconnects. */
export interface ClientCoreView extends BoundMethodsCache {
  readonly state: ClientState
  /** The URL of the current (or last) connection attempt. */
  readonly url: string
  /** The last `welcome`. */
  readonly lastWelcome: WelcomeMessage | undefined
  /** The transport of the last welcomed connection. */
  readonly transportName: string | undefined
  on<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): () => void
  off<K extends keyof ClientEvents>(type: K, handler: (event: ClientEvents[K]) => void): void
  join(name: string, options?: JoinOptions): Room
  request(name: string, input: unknown, options?: RequestOptions): Promise<unknown>
  close(): Promise<void>
}

/**
 * Where a client handle keeps its core: a symbol-keyed property, not a `#private` field, so the getters also work on
 * a Proxy of the client (Vue's `reactive()`, say), which a private field's brand check refuses.
 */
const CORE = Symbol('parley.client.core')

/** The methods of a client. */
type ClientMethods = Pick<Client, 'on' | 'off' | 'join' | 'request' | 'close'>

/**
 * The object `createClient()` returns: a class with its getters on the prototype, so each client is a small object
 * in V8's fast mode (docs/benchmarks.md, "The client's own cost"). Its state (`state`, `url`, `session`, ...) is read
 * through getters, so a spread or `Object.keys` of the client does not list it. Its methods are getters too, each
 * answering a function bound to the client, made on first use and the same ever after (see `defineBoundMethods`):
 * `const { join } = client` and `emitter.on('x', client.close)` work, and a client whose methods nobody reads holds
 * no closures.
 */
export class ClientHandle {
  readonly [CORE]: ClientCoreView

  constructor(core: ClientCoreView) {
    this[CORE] = core
  }

  get state(): ClientState {
    return this[CORE].state
  }

  get url(): string {
    return this[CORE].url
  }

  get protocol(): string | undefined {
    return this[CORE].lastWelcome?.protocol
  }

  get transport(): string | undefined {
    return this[CORE].transportName
  }

  get version(): number | undefined {
    return this[CORE].lastWelcome?.version
  }

  get session(): string | undefined {
    return this[CORE].lastWelcome?.session
  }

  get user(): string | undefined {
    return this[CORE].lastWelcome?.user
  }

  get welcome(): WelcomeMessage | undefined {
    return this[CORE].lastWelcome
  }
}

// The client's methods: getters on the prototype (declaration merging types them).
export interface ClientHandle extends ClientMethods {}
defineBoundMethods<ClientMethods>(ClientHandle.prototype, CORE, { on: true, off: true, join: true, request: true, close: true })
