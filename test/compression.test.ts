// Compression of the static routes (server/http/compression.ts): gzip or br per Accept-Encoding for
// the docs assets, the OpenAPI document and the client bundle; never for the realtime routes (an
// SSE stream, a poll answer), through the direct route or through Koa, and not for the REST API.
import { type IncomingHttpHeaders, request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_API_KEY, type TestServer, startServer } from './support/server.js';

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  /** The bytes as they came over the wire, still encoded. */
  body: Buffer;
}

/** A request whose body is read as sent (fetch would decode it); for SSE, only the head and first bytes. */
function raw(url: string, headers: Record<string, string> = {}, untilFirstBytes = false): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (untilFirstBytes) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

const BOTH = { 'accept-encoding': 'gzip, deflate, br' };

describe.each([
  ['the direct route', true],
  ['Koa', false],
])('compression, realtime routes answered by %s', (_name, directRoutes) => {
  let srv: TestServer;
  beforeAll(async () => void (srv = await startServer({}, { directRoutes })));
  afterAll(() => srv.close());

  it('never encodes an SSE stream', async () => {
    const sse = await raw(`${srv.url}/sse?channels=compression:sse`, BOTH, true);
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(sse.headers['content-encoding']).toBeUndefined();
    expect(sse.body.toString()).toMatch(/^retry: /);
  });

  it('never encodes a poll answer, even one over the threshold', async () => {
    // Fifty channels: the answer lists a subscription for each, well over 1 KB.
    const channels = Array.from({ length: 50 }, (_, i) => `compression:poll-${i}`).join(',');
    const poll = await raw(`${srv.url}/poll?channels=${channels}&timeout=0`, BOTH);
    expect(poll.status).toBe(200);
    expect(poll.body.length).toBeGreaterThan(1024);
    expect(poll.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(poll.body.toString()).subscriptions).toHaveLength(50);
  });
});

describe('compression of the static routes', () => {
  let srv: TestServer;
  beforeAll(async () => void (srv = await startServer()));
  afterAll(() => srv.close());

  it('sends Swagger UI’s bundle gzip or br per Accept-Encoding, much smaller, decoding to the same bytes', async () => {
    const path = `${srv.url}/docs/assets/swagger-ui-bundle.js`;
    const plain = await raw(path);
    const gzip = await raw(path, { 'accept-encoding': 'gzip' });
    const br = await raw(path, BOTH);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(br.headers['content-encoding']).toBe('br');
    expect(gzip.headers['vary']).toMatch(/accept-encoding/i);
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    console.log(`swagger-ui-bundle.js: ${plain.body.length} bytes plain, ${gzip.body.length} gzip, ${br.body.length} br`);
    expect(gzip.body.length).toBeLessThan(plain.body.length / 3);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
  });

  it('compresses the OpenAPI document and the client bundle; a revalidation still gets 304', async () => {
    for (const path of ['/openapi.json', '/client/hubbub.js']) {
      const first = await raw(srv.url + path, BOTH);
      expect([path, first.headers['content-encoding']]).toEqual([path, 'br']);
      const again = await raw(srv.url + path, { ...BOTH, 'if-none-match': String(first.headers['etag']) });
      expect([path, again.status, again.body.length]).toEqual([path, 304, 0]);
    }
  });

  it('leaves bodies under 1 KB as they are, and never encodes the REST API', async () => {
    const icon = await raw(`${srv.url}/favicon.ico`, BOTH);
    expect(icon.body.length).toBeLessThan(1024);
    expect([icon.status, icon.headers['content-encoding']]).toEqual([200, undefined]);
    const init = await raw(`${srv.url}/docs/assets/init.js`, BOTH);
    expect(init.body.length).toBeLessThan(1024);
    expect([init.status, init.headers['content-encoding']]).toEqual([200, undefined]);
    const info = await raw(`${srv.url}/api/info`, { ...BOTH, authorization: `Bearer ${TEST_API_KEY}` });
    expect([info.status, info.headers['content-encoding'], info.headers['vary']]).toEqual([200, undefined, undefined]);
  });
});
