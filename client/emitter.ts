// A tiny typed event emitter that runs in browsers and Node alike (no `events` module).
// A listener that throws does not break the emitter or the caller's state machine: the error is
// rethrown on a fresh task, where the host reports it as uncaught.

export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends EventMap> {
  readonly #listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  /** Returns a function that removes the listener. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const set = (this.#listeners[event] ??= new Set());
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners[event]?.delete(listener);
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.#listeners[event]?.size ?? 0;
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners[event];
    if (!set) return;
    // A copy, so listeners may remove themselves (once) while we iterate.
    for (const listener of [...set]) safeCall(listener, ...args);
  }
}

/** Calls an application callback; its exception must not corrupt client state, so it is rethrown later. */
export function safeCall<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  if (!fn) return;
  try {
    fn(...args);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
