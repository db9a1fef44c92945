import { describe, expect, it } from 'vitest';
import { ErrorBody } from '../contract/index.js';
import { parseExposition } from './support/exposition.js';
import { startWithConfig } from './support/secured.js';
import { TEST_API_KEY, startServer } from './support/server.js';

// Who may read /metrics: on the main port an API key whose operations include `metrics` (the
// full-access key has them all); on --metrics-port anyone who reaches that port; nobody when off.

const KEYS = { scraper: 'scraper-key-0123456789abcdef', publisher: 'publisher-key-0123456789abc' };
const CONFIG = `
apiKeys:
  - name: scraper
    key: ${KEYS.scraper}
    operations: [metrics]
  - name: publisher
    key: ${KEYS.publisher}
    operations: [publish]
`;

const get = (url: string, key?: string) => fetch(`${url}/metrics`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });

async function errorCode(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ErrorBody.parse(await res.json()).code;
}

describe('metrics access', () => {
  it('main port: no key is unauthorized, a key without the metrics operation forbidden, a metrics key or the full key reads it', async () => {
    await using srv = await startWithConfig(CONFIG);
    const none = await get(srv.url);
    expect([none.status, await errorCode(none)]).toEqual([401, 'unauthorized']);
    const wrong = await get(srv.url, 'no-such-key-0123456789abc');
    expect([wrong.status, await errorCode(wrong)]).toEqual([401, 'unauthorized']);
    const publisher = await get(srv.url, KEYS.publisher);
    expect([publisher.status, await errorCode(publisher)]).toEqual([403, 'forbidden']);
    for (const key of [KEYS.scraper, TEST_API_KEY]) {
      const res = await get(srv.url, key);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(parseExposition(await res.text()).types.get('hubbub_connections')).toBe('gauge');
    }
  });

  it('--metrics-port serves /metrics without a key, and nothing else', async () => {
    await using srv = await startServer({ HUBBUB_METRICS_PORT: '0' });
    const port = srv.app.metricsPort;
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(srv.app.port);
    const open = `http://127.0.0.1:${port}`;
    const res = await get(open);
    expect(res.status).toBe(200);
    expect(parseExposition(await res.text()).value('hubbub_cluster_nodes')).toBe(1);
    const other = await fetch(`${open}/api/info`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect([other.status, await errorCode(other)]).toEqual([404, 'not_found']);
    const post = await fetch(`${open}/metrics`, { method: 'POST' });
    expect([post.status, await errorCode(post)]).toEqual([405, 'method_not_allowed']);
    // The main port still wants a key.
    expect((await get(srv.url)).status).toBe(401);
  });

  it('the metrics port closes with the node and opens again with it', async () => {
    await using srv = await startServer({ HUBBUB_METRICS_PORT: '0' });
    const first = srv.app.metricsPort!;
    await srv.app.stop();
    expect(srv.app.metricsPort).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${first}/metrics`)).rejects.toThrow();
    await srv.app.listen(0, '127.0.0.1');
    expect((await get(`http://127.0.0.1:${srv.app.metricsPort}`)).status).toBe(200);
  });

  it('--metrics false: /metrics is not_found even with the full key, and no metrics port opens', async () => {
    await using srv = await startServer({ HUBBUB_METRICS: 'false', HUBBUB_METRICS_PORT: '0' });
    const res = await get(srv.url, TEST_API_KEY);
    expect([res.status, await errorCode(res)]).toEqual([404, 'not_found']);
    expect(srv.app.metricsPort).toBeUndefined();
    expect(srv.app.metrics.enabled).toBe(false);
    // The node's own counts stay readable for the admin page.
    await srv.publish('off', { n: 1 });
    expect(srv.app.stats().publications.accepted).toBe(1);
  });
});
