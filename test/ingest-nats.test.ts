import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestReply } from '../contract/ingest.js';
import { createHubbub } from '../server/app.js';
import { connectBackbone } from '../server/backbone.js';
import { loadConfig } from '../server/config.js';
import { ingestListeners } from '../server/ingest/index.js';
import { memoryLogger } from '../server/logger.js';
import { freshPrefix } from './support/cluster.js';
import { NatsServer } from './support/nats-server.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY } from './support/server.js';

// The NATS door: a plain NATS client (no Hubbub code) requests `<prefix>.ingest.<channel>` on a
// real nats-server and gets the position back; the nodes, built as `hubbub serve` builds them,
// share the request in a queue group, and subscribers on every node receive the publication.

let nats: NatsServer;
beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  await nats.close();
});

async function node(id: string, prefix: string, env: Record<string, string> = {}) {
  const config = loadConfig({
    env: { HUBBUB_API_KEY: TEST_API_KEY, HUBBUB_HOST: '127.0.0.1', HUBBUB_NODE_ID: id, HUBBUB_NATS_URL: nats.url, HUBBUB_NATS_PREFIX: prefix, ...env },
  });
  const logger = memoryLogger();
  const app = createHubbub(config, { logger, ...(await connectBackbone(config, logger)), listeners: ingestListeners(config) });
  await app.listen(0, '127.0.0.1');
  return app;
}

const decode = (data: Uint8Array) => IngestReply.parse(JSON.parse(new TextDecoder().decode(data)));

describe('ingest over NATS requests', () => {
  it('answers a request to <prefix>.ingest.<channel> with the position; subscribers on both nodes receive it', async () => {
    const prefix = freshPrefix();
    const a = await node('a', prefix);
    const b = await node('b', prefix);
    const onA = await openSession('websocket', a.url, ['ops:alerts']);
    const onB = await openSession('websocket', b.url, ['ops:alerts']);
    const nc = await connect({ servers: nats.url });
    try {
      const first = decode((await nc.request(`${prefix}.ingest.ops:alerts`, JSON.stringify({ data: 'disk full' }), { timeout: 5000 })).data);
      expect(first).toMatchObject({ channel: 'ops:alerts', offset: 1 });
      // The body may repeat the channel; an idempotency key dedups a retried request.
      const body = JSON.stringify({ channel: 'ops:alerts', data: { n: 2 }, idempotencyKey: 'nats-1' });
      const second = decode((await nc.request(`${prefix}.ingest.ops:alerts`, body, { timeout: 5000 })).data);
      const retried = decode((await nc.request(`${prefix}.ingest.ops:alerts`, body, { timeout: 5000 })).data);
      expect(second).toMatchObject({ channel: 'ops:alerts', offset: 2 });
      expect(retried).toEqual(second);
      for (const sub of [onA, onB]) await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['disk full', { n: 2 }]);
      // A channel with dots spans several subject tokens: it is the whole rest of the subject.
      const dotted = decode((await nc.request(`${prefix}.ingest.logs:web.eu.1`, JSON.stringify({ data: 1 }), { timeout: 5000 })).data);
      expect(dotted).toMatchObject({ channel: 'logs:web.eu.1', offset: 1 });
    } finally {
      await nc.close();
      await onA.close();
      await onB.close();
      await a.close();
      await b.close();
    }
  });

  it('answers a bad channel, a contradicting body and bad JSON with an error from the table', async () => {
    const prefix = freshPrefix();
    const a = await node('a', prefix, { HUBBUB_INGEST_NAMESPACES: 'ops' });
    const nc = await connect({ servers: nats.url });
    try {
      const ask = async (channel: string, body: string) => decode((await nc.request(`${prefix}.ingest.${channel}`, body, { timeout: 5000 })).data);
      const code = (r: IngestReply) => ('error' in r ? r.error.code : 'published');
      expect(code(await ask('ops:bad!name', '{"data":1}'))).toBe('invalid_channel');
      expect(code(await ask('ops:a', '{"channel":"ops:b","data":1}'))).toBe('bad_request');
      expect(code(await ask('ops:a', '{"data":'))).toBe('invalid_json');
      expect(code(await ask('ops:a', '"just a string"'))).toBe('bad_request');
      expect(code(await ask('chat:lobby', '{"data":1}'))).toBe('forbidden');
      expect(code(await ask('ops:a', '{"data":1}'))).toBe('published');
    } finally {
      await nc.close();
      await a.close();
    }
  });

  it('is off with --ingest-nats false: nobody answers', async () => {
    const prefix = freshPrefix();
    const a = await node('a', prefix, { HUBBUB_INGEST_NATS: 'false' });
    const nc = await connect({ servers: nats.url });
    try {
      await expect(nc.request(`${prefix}.ingest.ops:a`, '{"data":1}', { timeout: 2000 })).rejects.toThrow(/no responders/i);
    } finally {
      await nc.close();
      await a.close();
    }
  });
});
