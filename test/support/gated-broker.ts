import type { StreamPosition } from '../../contract/index.js';
import { MemoryBroker } from '../../server/broker/memory.js';

/** position() answers only when the test says so: a subscribe stays pending exactly as long as needed. */
export class GatedBroker extends MemoryBroker {
  private readonly gates: Array<{ open: () => void; fail: (err: Error) => void }> = [];

  constructor() {
    super({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
  }

  override position(channel: string): Promise<StreamPosition> {
    return new Promise((resolve, reject) => {
      this.gates.push({ open: () => super.position(channel).then(resolve, reject), fail: reject });
    });
  }

  get waiting(): number {
    return this.gates.length;
  }

  /** Answers the oldest waiting position() call. */
  open(): void {
    this.gates.shift()!.open();
  }

  fail(err: Error): void {
    this.gates.shift()!.fail(err);
  }
}
