/** Where a handle's core keeps the bound functions its handle handed out (a field every core declares). */
export const BOUND = Symbol('parley.bound')

/** What a core behind a handle holds for {@link defineBoundMethods}. */
export interface BoundMethodsCache {
  [BOUND]: Record<string, (...args: unknown[]) => unknown> | undefined
}

type Core = BoundMethodsCache & Record<string, (...args: unknown[]) => unknown>

/**
 * Gives a handle class (a client, a room) methods that are getters on its prototype, each answering a function bound
 * to the handle's core (under the symbol `core`): made on first read, kept on the core, the same on every later read.
 * `const { publish } = room` and passing `client.close` as a callback work as with own-property methods, while a
 * handle whose methods nobody reads holds no closures (docs/benchmarks.md, "The client's own cost"). Each bound
 * function calls the method of the same name on the core. So that the usual ways of handling an object still work:
 *
 * - Through a Proxy of the handle (Vue's `reactive()`): the function is bound to the core as the getter reads it, and
 *   cores are not extensible, which Vue and its kin take as "leave as is"; the core's `#private` members need the
 *   real object.
 * - On a frozen handle (Immer's auto-freeze): the cache is on the core, not the handle.
 * - Read off the prototype, or by a spy library looking for the original (`vi.spyOn(client, 'join')`): one shared
 *   function that calls the method on its `this`.
 * - Assigned (`client.close = fn`): the handle gets an own property, as with any method.
 *
 * `names` lists every method, `{ publish: true, ... }`, so the compiler checks the list against the handle's type
 * both ways.
 */
export function defineBoundMethods<M>(prototype: object, core: symbol, names: Record<keyof M & string, true>): void {
  for (const name of Object.keys(names)) {
    const unbound = {
      [name](this: Record<symbol, Core>, ...args: unknown[]): unknown {
        return this[core]![name]!(...args)
      },
    }[name]
    Object.defineProperty(prototype, name, {
      configurable: true,
      get(this: Record<symbol, Core | undefined> | undefined) {
        const target = typeof this === 'object' && this !== null ? this[core] : undefined
        if (target === undefined) return unbound
        const cache = (target[BOUND] ??= Object.create(null) as Record<string, (...args: unknown[]) => unknown>)
        return (cache[name] ??= (...args: unknown[]) => target[name]!(...args))
      },
      set(this: object, value: unknown) {
        Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true })
      },
    })
  }
}
