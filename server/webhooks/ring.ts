// A bounded FIFO: when full, push() drops the oldest item and returns it, so the queue's memory
// never grows past its capacity however long the receiver stays away.

export class Ring<T> {
  private readonly items: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Appends `item`; returns the oldest item it pushed out when the ring was full. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.count === this.capacity) dropped = this.shift();
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count += 1;
    return dropped;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count -= 1;
    return item;
  }

  /** Removes and returns up to `n` items from the front. */
  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.count > 0) out.push(this.shift()!);
    return out;
  }
}
