import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NatsBroker, type NatsBrokerOptions } from '../server/broker/nats.js';
import { describeBroker } from './support/broker-conformance.js';
import { NatsServer } from './support/nats-server.js';

let server: NatsServer;
const logs: string[] = [];
const logger = { warn: (m: string, c?: Record<string, unknown>) => void logs.push(`${m} ${JSON.stringify(c ?? {})}`) };

beforeAll(async () => {
  server = await NatsServer.start();
});
afterAll(async () => {
  await server?.close();
});

function options(o: Partial<NatsBrokerOptions> & Pick<NatsBrokerOptions, 'historySize' | 'historyTtlMs'>): NatsBrokerOptions {
  return { servers: server.url, logger, ...o };
}

describeBroker(
  'nats',
  async (o) => {
    const broker = await NatsBroker.connect(options({ ...o, prefix: 'conf', name: 'node-a' }));
    const peer = await NatsBroker.connect(options({ ...o, prefix: 'conf', name: 'node-b' }));
    return {
      broker,
      peer,
      close: async () => {
        await Promise.all([broker.close(), peer.close()]);
      },
    };
  },
  { multiNode: true },
);
