// One bench client process: opens subscribers when told (over the IPC channel) and reports its
// counters, latencies and own CPU time. The bench runs two of these beside the publisher, so
// clients parse on their own cores and the main process only publishes and reads /proc.
import { SignJWT } from 'jose';
import { Tally, type Subscriber, type Transport, openSubscriber } from './subscribers.js';

export type WorkerCommand =
  | {
      op: 'open';
      transport: Transport;
      /** Subscriber k of this batch goes to urls[k % urls.length] and channels[k % channels.length]. */
      urls: string[];
      channels: string[];
      count: number;
      /** Index of the first subscriber in the whole run: its user id when tokens are signed. */
      first: number;
      tokenSecret: string | undefined;
      localAddress: string | undefined;
    }
  | { op: 'reset'; latencies: boolean; capacity: number }
  | { op: 'count' }
  | { op: 'report' }
  | { op: 'close' };

export interface Counts {
  unique: number;
  dups: number;
  unrecovered: number;
  answers: number;
  dropped: number;
  lastAt: number;
  errors: string[];
}

export interface Report extends Counts {
  latencies: number[];
  /** {publications received in the phase: subscribers} */
  spread: Record<number, number>;
  /** CPU this process used since the last reset, µs, and the wall time it was measured over, ms. */
  cpuUs: number;
  wallMs: number;
}

export interface Opened {
  opened: number;
  failed: number;
  errors: string[];
}

const tally = new Tally();
const subscribers: Subscriber[] = [];
let cpu = process.cpuUsage();
let wall = performance.now();
const OPEN_IN_FLIGHT = 100;

async function token(secret: string | undefined, user: number): Promise<string | undefined> {
  if (!secret) return undefined;
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(`user${user}`).setExpirationTime('2h').sign(new TextEncoder().encode(secret));
}

async function open(cmd: Extract<WorkerCommand, { op: 'open' }>): Promise<Opened> {
  let next = 0;
  let failed = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(OPEN_IN_FLIGHT, cmd.count) }, async () => {
      while (next < cmd.count) {
        const k = next++;
        const target = {
          url: cmd.urls[k % cmd.urls.length]!,
          channel: cmd.channels[k % cmd.channels.length]!,
          token: await token(cmd.tokenSecret, cmd.first + k),
          localAddress: cmd.localAddress,
        };
        try {
          const s = await openSubscriber(cmd.transport, target, tally);
          subscribers.push(s);
          tally.add(s.seen);
        } catch (err) {
          failed += 1;
          if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
        }
      }
    }),
  );
  return { opened: cmd.count - failed, failed, errors };
}

const counts = (): Counts => ({
  unique: tally.unique,
  dups: tally.dups,
  unrecovered: tally.unrecovered,
  answers: tally.answers,
  dropped: tally.dropped,
  lastAt: tally.lastAt,
  errors: tally.errors,
});

async function handle(cmd: WorkerCommand): Promise<unknown> {
  switch (cmd.op) {
    case 'open':
      return open(cmd);
    case 'reset':
      tally.reset(cmd.latencies, cmd.capacity);
      cpu = process.cpuUsage();
      wall = performance.now();
      return {};
    case 'count':
      return counts();
    case 'report': {
      const used = process.cpuUsage(cpu);
      const report: Report = {
        ...counts(),
        latencies: tally.latencies ? Array.from(tally.latencies.subarray(0, tally.samples)) : [],
        spread: tally.spread(),
        cpuUs: used.user + used.system,
        wallMs: performance.now() - wall,
      };
      return report;
    }
    case 'close':
      for (const s of subscribers.splice(0)) s.close();
      tally.clear();
      return {};
  }
}

process.on('message', (msg: { id: number; cmd: WorkerCommand }) => {
  handle(msg.cmd).then(
    (result) => process.send!({ id: msg.id, result }),
    (err: unknown) => process.send!({ id: msg.id, error: err instanceof Error ? err.stack : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
