/** A typed event emitter whose `on` returns its own unsubscribe. */
export interface EventSource<Events extends Record<string, unknown>> {
  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): () => void
  off<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): void
}

type AnyHandler = (event: never) => void

/**
 * The SDK's emitter. Emitting runs every handler even when one throws: the SDK's own state must never depend on the
 * app's handlers, so a throw is rethrown on a microtask (an uncaught error the app sees) instead of unwinding the
 * SDK. Handlers may unsubscribe while an event is being emitted. A class with one table made on the first `on`, so a
 * client or room that nobody listens to holds no handler lists and no closures (docs/benchmarks.md, "The client's
 * own cost"); `mitt`, used before, made six closures and a map per emitter.
 */
export class Emitter<Events extends Record<string, unknown>> implements EventSource<Events> {
  /** Handler lists by event type: a prototype-less object, not a Map (whose table alone takes about 200 bytes). */
  #handlers: { [K in keyof Events]?: AnyHandler[] } | undefined

  on<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): () => void {
    const handlers = (this.#handlers ??= Object.create(null) as { [K in keyof Events]?: AnyHandler[] })
    const list = handlers[type]
    if (list === undefined) handlers[type] = [handler]
    else list.push(handler)
    return () => this.off(type, handler)
  }

  off<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): void {
    const list = this.#handlers?.[type]
    if (list === undefined) return
    const index = list.indexOf(handler)
    if (index >= 0) list.splice(index, 1)
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const list = this.#handlers?.[type]
    if (list === undefined || list.length === 0) return
    // A handler added while this runs waits for the next event; one removed meanwhile still gets this one.
    if (list.length === 1) call(list[0] as AnyHandler, event)
    else for (const handler of list.slice()) call(handler, event)
  }
}

function call(handler: AnyHandler, event: unknown): void {
  try {
    ;(handler as (event: unknown) => void)(event)
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}
