// The bench's side of its client processes (client-worker.ts): subscribers are spread evenly over
// them, and their counters are summed. Every phase opens subscribers from a fresh loopback source
// address (127.0.<phase>.<worker>), so ports left in TIME_WAIT by a phase of 20,000 never run
// short for the next.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Counts, Opened, Report, WorkerCommand } from './client-worker.js';
import type { Transport } from './subscribers.js';

const WORKER = fileURLToPath(new URL('./client-worker.ts', import.meta.url));

class Worker {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p?.reject(new Error(`client worker: ${msg.error}`));
      else p?.resolve(msg.result);
    });
    child.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`client worker exited (${code})`));
      this.pending.clear();
    });
  }

  call<T>(cmd: WorkerCommand): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd });
    });
  }
}

export interface OpenRequest {
  transport: Transport;
  urls: string[];
  channels: string[];
  count: number;
  tokenSecret: string | undefined;
}

export interface PoolReport extends Counts {
  latencies: number[];
  /** How many subscribers got how many publications in the phase: {count: subscribers}. */
  spread: Record<number, number>;
  /** CPU of each client process over the phase, as a share of one core (1 = a full core). */
  clientCores: number[];
  /** CPU of all client processes over the phase, µs. */
  clientCpuUs: number;
}

export class ClientPool {
  private phase = 0;
  /** Subscribers opened so far: the user id of the next one when tokens are signed. */
  private opened = 0;

  private constructor(private readonly workers: Worker[]) {}

  static async start(count: number, prefix: string[]): Promise<ClientPool> {
    const workers = Array.from({ length: count }, () => {
      const command = [...prefix, process.execPath, '--import', 'tsx', WORKER];
      return new Worker(spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    });
    return new ClientPool(workers);
  }

  /** Opens `count` subscribers, spread over the workers; resolves with how many opened. */
  async open(req: OpenRequest): Promise<Opened> {
    this.phase = (this.phase % 250) + 1;
    const n = this.workers.length;
    const results = await Promise.all(
      this.workers.map((w, i) => {
        const count = Math.floor(req.count / n) + (i < req.count % n ? 1 : 0);
        // Worker i's share starts at subscriber i*share: rotate channels and urls to keep the spread even.
        const offset = Math.floor(req.count / n) * i + Math.min(i, req.count % n);
        const rotate = <T>(xs: T[]) => xs.map((_, k) => xs[(k + offset) % xs.length]!);
        const first = this.opened + offset;
        return w.call<Opened>({
          op: 'open',
          transport: req.transport,
          urls: rotate(req.urls),
          channels: rotate(req.channels),
          count,
          first,
          tokenSecret: req.tokenSecret,
          localAddress: `127.0.${this.phase}.${i + 1}`,
        });
      }),
    );
    this.opened += req.count;
    return {
      opened: results.reduce((s, r) => s + r.opened, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
    };
  }

  async reset(latencies: boolean, capacity = 1024): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call({ op: 'reset', latencies, capacity: Math.ceil(capacity / this.workers.length) + 16 })));
  }

  async counts(): Promise<Counts> {
    return sum(await Promise.all(this.workers.map((w) => w.call<Counts>({ op: 'count' }))));
  }

  async report(): Promise<PoolReport> {
    const reports = await Promise.all(this.workers.map((w) => w.call<Report>({ op: 'report' })));
    return {
      ...sum(reports),
      latencies: reports.flatMap((r) => r.latencies),
      spread: reports.reduce<Record<number, number>>((all, r) => {
        for (const [k, v] of Object.entries(r.spread)) all[Number(k)] = (all[Number(k)] ?? 0) + v;
        return all;
      }, {}),
      clientCores: reports.map((r) => Number((r.cpuUs / 1000 / r.wallMs).toFixed(2))),
      clientCpuUs: reports.reduce((s, r) => s + r.cpuUs, 0),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call({ op: 'close' })));
  }

  stop(): void {
    for (const w of this.workers) w.child.kill();
  }
}

function sum(parts: Counts[]): Counts {
  return {
    unique: parts.reduce((s, p) => s + p.unique, 0),
    dups: parts.reduce((s, p) => s + p.dups, 0),
    unrecovered: parts.reduce((s, p) => s + p.unrecovered, 0),
    answers: parts.reduce((s, p) => s + p.answers, 0),
    dropped: parts.reduce((s, p) => s + p.dropped, 0),
    lastAt: Math.max(...parts.map((p) => p.lastAt)),
    errors: parts.flatMap((p) => p.errors).slice(0, 5),
  };
}
