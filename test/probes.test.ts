import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBroker } from '../server/broker/nats/broker.js';
import { HubbubError } from '../server/errors.js';
import { health, readiness } from '../server/http/probes.js';
import { NatsServer } from './support/nats-server.js';
import { startServer } from './support/server.js';

// /health and /ready answer without a key, for load balancers and Kubernetes probes: /health while
// the process answers, /ready only while the node should get traffic (not draining, broker connected).

const get = (url: string) => fetch(url).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe('/health and /ready', () => {
  it('answer without a key on one node', async () => {
    await using srv = await startServer();
    const health = await get(`${srv.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', node: srv.config.nodeId });
    expect(health.body['uptime']).toBeTypeOf('number');
    expect(await get(`${srv.url}/ready`)).toEqual({ status: 200, body: { status: 'ready', node: srv.config.nodeId, broker: 'memory' } });
    // Another method gets the documented 405.
    const post = await fetch(`${srv.url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ code: 'method_not_allowed' });
  });

  it('/ready answers 503 unavailable while the node drains', async () => {
    let draining = false;
    const node = { config: { nodeId: 'n1' }, broker: { kind: 'memory', ready: true }, startedAt: Date.now(), isClosing: () => draining };
    expect(readiness(node)).toEqual({ status: 'ready', node: 'n1', broker: 'memory' });
    draining = true;
    let refused: unknown;
    try {
      readiness(node);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(HubbubError);
    expect(refused).toMatchObject({ code: 'unavailable', status: 503 });
    // Alive all the same.
    expect(health(node)).toMatchObject({ status: 'ok', node: 'n1' });
  });

  describe('on NATS', () => {
    let nats: NatsServer;
    beforeAll(async () => {
      nats = await NatsServer.start();
    });
    afterAll(async () => {
      await nats?.close();
    });

    it('/ready answers 503 unavailable while NATS is away and 200 once it is back; /health stays 200', async () => {
      const broker = await NatsBroker.connect({ servers: nats.url, prefix: 'probes', historySize: 10, historyTtlMs: 60_000 });
      await using srv = await startServer({}, { broker });
      expect(await get(`${srv.url}/ready`)).toMatchObject({ status: 200, body: { broker: 'nats' } });
      await nats.stop();
      await expect.poll(async () => (await get(`${srv.url}/ready`)).status, { timeout: 10_000 }).toBe(503);
      expect((await get(`${srv.url}/ready`)).body).toMatchObject({ code: 'unavailable' });
      expect((await get(`${srv.url}/health`)).status).toBe(200);
      await nats.restart();
      await expect.poll(async () => (await get(`${srv.url}/ready`)).status, { timeout: 15_000 }).toBe(200);
    });
  });
});
