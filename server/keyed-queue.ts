/**
 * Runs tasks one after another per key (each once the previous one settled, whatever its
 * outcome), different keys in parallel. Used wherever calls for one channel must not overtake
 * each other: a hub's subscribe/unsubscribe at the broker, a NATS node's publishes to a channel.
 */
export class KeyedQueue {
  /** The settled-never-rejects tail of each key's queue; gone once the queue is empty. */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(() => task());
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
