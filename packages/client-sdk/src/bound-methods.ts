/**
 * Gives a handle class (a client, a room) methods that are getters on its prototype, each answering a function
 * bound to the handle: made on first read, kept in `cache`, the same on every later read. `const { publish } = room`
 * and passing `client.close` as a callback work as with own-property methods, while a handle whose methods nobody
 * reads holds no closures (docs/benchmarks.md, "The client's own cost"). Each bound function calls the method of the
 * same name on the handle's `core`. `names` lists every method, `{ publish: true, ... }`, so the compiler checks the list
 * against the handle's type both ways. Both keys are symbols, so the getters also work on a Proxy of the handle (Vue's
 * `reactive()`, say), which `#private` fields would refuse.
 */
export function defineBoundMethods<M>(prototype: object, core: symbol, cache: symbol, names: Record<keyof M & string, true>): void {
  for (const name of Object.keys(names)) {
    Object.defineProperty(prototype, name, {
      configurable: true,
      get(this: Record<symbol, Record<string, unknown> | undefined>) {
        const bound = (this[cache] ??= {})
        return (bound[name] ??= (...args: unknown[]) => (this[core] as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!(...args))
      },
    })
  }
}
