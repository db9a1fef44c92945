// Fuzz below the HTTP client: request heads node:http's parser refuses (too long, malformed) and
// POST bodies cut off by the client. Both come over raw TCP, since no HTTP client sends them.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, TEST_API_KEY, startServer } from '../support/server.js';
import { type HttpResult, checkHttpAnswer, expectServesEveryTransport, httpRequest } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';

/** Sends `bytes`, reads until the server closes, and parses the one response (if any). */
function exchange(port: number, bytes: Buffer): Promise<HttpResult | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    // The server may close before reading everything (EPIPE, ECONNRESET): its answer is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(parseResponse(Buffer.concat(chunks).toString('latin1'))));
    socket.end(bytes);
  });
}

function parseResponse(text: string): HttpResult | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const header = (name: string) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  const length = Number(header('content-length') ?? text.length - end - 4);
  const body = Buffer.from(text.slice(end + 4), 'latin1').subarray(0, length).toString('utf8');
  return { status: Number(statusLine.split(' ')[1]), contentType: header('content-type') ?? '', text: body };
}

const CLOSE = 'Host: fuzz\r\nConnection: close\r\n';

/** Request heads refused before the routes: by node:http's parser, or by the WebSocket upgrade. */
const badHead: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 16_400, max: 40_000 }).map((n) => `GET /api/info?x=${'a'.repeat(n)} HTTP/1.1\r\n${CLOSE}\r\n`),
  fc.integer({ min: 16_400, max: 40_000 }).map((n) => `GET /api/info HTTP/1.1\r\nX-Big: ${'a'.repeat(n)}\r\n${CLOSE}\r\n`),
  fc.constantFrom(
    `GET  /api/info HTTP/1.1\r\n${CLOSE}\r\n`,
    `GET /api/in\u007ffo HTTP/1.1\r\n${CLOSE}\r\n`,
    `GET /\u00e9 HTTP/1.1\r\n${CLOSE}\r\n`,
    `NOT-A-METHOD /api/info HTTP/1.1\r\n${CLOSE}\r\n`,
    `GET /api/info HTTP/1.1 extra\r\n${CLOSE}\r\n`,
    `GET /api/info HTTP/1.1\r\nX A: 1\r\n${CLOSE}\r\n`,
    `GET /api/info HTTP/1.1\r\nNoColonHere\r\n${CLOSE}\r\n`,
    `GET /api/info HTTP/1.1\r\nX-A: a\u0000b\r\n${CLOSE}\r\n`,
    `POST /api/publish HTTP/1.1\r\nContent-Length: abc\r\n${CLOSE}\r\n`,
    `POST /api/publish HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n${CLOSE}\r\nab`,
    `POST /api/publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n${CLOSE}\r\nzz\r\n`,
  ),
  // WebSocket handshakes that cannot succeed: answered by the upgrade handler, not the routes.
  fc
    .record({
      path: fc.constantFrom('/ws', '/ws?x=1', '/nope', '/api/info', '/sse'),
      version: fc.constantFrom('13', '8', '99', ''),
      key: fc.constantFrom('dGhlIHNhbXBsZSBub25jZQ==', 'bad', ''),
    })
    .filter((h) => !(h.path.startsWith('/ws') && h.version === '13' && h.key.length > 3))
    .map(
      (h) =>
        `GET ${h.path} HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: ${h.version}\r\nSec-WebSocket-Key: ${h.key}\r\n\r\n`,
    ),
);

/** A publish whose client goes away mid-body, after the server started reading it. */
const abortedPost = fc.record({
  declared: fc.integer({ min: 2, max: 100_000 }),
  sentFraction: fc.double({ min: 0, max: 0.99, noNaN: true }),
});

function abortPost(port: number, input: { declared: number; sentFraction: number }): Promise<void> {
  const body = `{"channel":"aborted","data":"${'x'.repeat(Math.max(0, input.declared - 30))}"}`.slice(0, input.declared);
  const head =
    `POST /api/publish HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${input.declared}\r\nExpect: 100-continue\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    socket.on('error', reject);
    // "100 Continue" is sent when the request reaches the app: from then on the body is being read.
    socket.once('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 100')) return reject(new Error(`expected 100 Continue, got ${chunk.toString('latin1').slice(0, 100)}`));
      socket.write(body.slice(0, Math.floor(body.length * input.sentFraction)), () => {
        socket.destroy();
        resolve();
      });
    });
  });
}

describe('fuzz: raw HTTP', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer(FUZZ_LIMITS);
  });
  afterAll(() => srv?.close());

  it(
    'request heads refused before the routes (parser errors, failed WebSocket handshakes) get an ErrorBody from the table',
    () =>
      fuzz('http malformed heads', srv, badHead, async (head) => {
        const res = await exchange(srv.app.port, Buffer.from(head, 'latin1'));
        const what = `raw request ${JSON.stringify(head.slice(0, 80))}${head.length > 80 ? `... (${head.length} bytes)` : ''}`;
        expect(res, `${what}: no HTTP response`).toBeDefined();
        return checkHttpAnswer(res!, what)?.code ?? String(res!.status);
      }),
    fuzzTimeout(10),
  );

  it(
    'a POST cut off mid-body leaves the server serving',
    () =>
      fuzz('http aborted posts', srv, abortedPost, async (input) => {
        await abortPost(srv.app.port, input);
        const res = await httpRequest(srv.app.port, {
          method: 'POST',
          path: '/api/publish',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: '{"channel":"after-abort","data":1}',
        });
        expect(res.status, res.text).toBe(200);
        return 'served';
      }),
    fuzzTimeout(10),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
