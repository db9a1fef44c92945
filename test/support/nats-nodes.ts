import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import type { Publication } from '../../contract/index.js';
import { NatsBroker, type NatsBrokerOptions } from '../../server/broker/nats/broker.js';
import { NatsServer } from './nats-server.js';

// One nats-server per test file, an admin connection to look at JetStream directly, and NatsBroker
// nodes on it that are closed at the end. `server` and `admin` are live bindings, set by useNatsServer().

export let server: NatsServer;
export let admin: NatsConnection;
export const logs: string[] = [];
export const logger = { warn: (m: string, c?: Record<string, unknown>) => void logs.push(`${m} ${JSON.stringify(c ?? {})}`) };
const open: NatsBroker[] = [];

export function useNatsServer(): void {
  beforeAll(async () => {
    server = await NatsServer.start();
    admin = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    await admin?.close();
    await server?.close();
  });
}

type Limits = Pick<NatsBrokerOptions, 'historySize' | 'historyTtlMs'>;
export async function node(prefix: string, o: Partial<NatsBrokerOptions> & Limits, url = server.url): Promise<NatsBroker> {
  const b = await NatsBroker.connect({ servers: url, prefix, logger, ...o });
  open.push(b);
  return b;
}

export function collector(b: NatsBroker): { pubs: Publication[]; gaps: string[] } {
  const out = { pubs: [] as Publication[], gaps: [] as string[] };
  b.setHandler({ onPublication: (p) => out.pubs.push(p), onGap: (ch) => out.gaps.push(ch) });
  return out;
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The last message JetStream holds on a subject, whichever stream of the deployment captures it. */
export async function storedOn(subject: string): Promise<unknown> {
  const jsm = await jetstreamManager(admin);
  const stream = await jsm.streams.find(subject).catch(() => undefined);
  return stream ? jsm.streams.getMessage(stream, { last_by_subj: subject }) : null;
}
