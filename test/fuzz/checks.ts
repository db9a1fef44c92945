// The assertions every fuzz property shares: how an HTTP answer or a WebSocket error frame must
// look according to the contract, and that the server still serves a normal client afterwards.
import http from 'node:http';
import { expect, vi } from 'vitest';
import { ERROR_TABLE, type ErrorBody as ErrorBodyType, type ErrorCode, ErrorBody } from '../../contract/index.js';
import { type TransportName, TRANSPORT_NAMES, openSession } from '../support/raw-clients.js';
import type { TestServer } from '../support/server.js';

export interface HttpRequest {
  method: string;
  /** Sent as is: the generators percent-encode what a real client would. */
  path: string;
  /** An array value sends the header once per entry. */
  headers: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface HttpResult {
  status: number;
  contentType: string;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** node:http rather than fetch: it sends duplicated headers and bodies with any content type as given. */
export function httpRequest(port: number, req: HttpRequest): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** A 5xx is a server bug, except `unavailable` (503), which tells the client to retry elsewhere. */
export function expectAllowedCode(code: ErrorCode, where: string): void {
  const row = ERROR_TABLE[code];
  if (row.status >= 500) expect(code, `${where}: a 5xx other than unavailable`).toBe('unavailable');
}

/**
 * Checks any HTTP answer: no 5xx but 503 `unavailable`; an error is an ErrorBody in JSON whose
 * status and retryable come from ERROR_TABLE. Returns the error body, or undefined for a success.
 */
export function checkHttpAnswer(res: HttpResult, what: string): ErrorBodyType | undefined {
  const where = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status < 500 || res.status === 503, `${where}: 5xx`).toBe(true);
  if (res.status < 400) return undefined;
  expect(res.contentType, `${where}: error content type`).toMatch(/^application\/json/);
  let json: unknown;
  expect(() => (json = JSON.parse(res.text)), `${where}: error body is not JSON`).not.toThrow();
  const parsed = ErrorBody.safeParse(json);
  expect(parsed.success, `${where}: error body does not match ErrorBody`).toBe(true);
  const body = parsed.data!;
  const row = ERROR_TABLE[body.code];
  expect(res.status, `${where}: status of ${body.code}`).toBe(row.status);
  expect(body.retryable, `${where}: retryable of ${body.code}`).toBe(row.retryable);
  expectAllowedCode(body.code, where);
  return body;
}

/** The answer is an error and its code is one of `codes` (the problems the input really has). */
export function expectErrorAmong(res: HttpResult, codes: ReadonlySet<ErrorCode>, what: string): ErrorBodyType {
  const body = checkHttpAnswer(res, what);
  expect(body, `${what}: expected one of ${[...codes].join(', ')}, got ${res.status} ${res.text.slice(0, 300)}`).toBeDefined();
  expect([...codes], `${what}: got ${body!.code} (${res.text.slice(0, 300)})`).toContain(body!.code);
  return body!;
}

/** A success parsed with the contract's response schema. */
export function expectSuccess<T>(res: HttpResult, schema: { parse(v: unknown): T }, what: string): T {
  checkHttpAnswer(res, what);
  expect(res.status, `${what}: expected 200, got ${res.status} ${res.text.slice(0, 300)}`).toBe(200);
  return schema.parse(JSON.parse(res.text));
}

let healthSeq = 0;

/** A normal client still works: one subscriber per transport receives a fresh publication. */
export async function expectServesEveryTransport(srv: TestServer, transports: TransportName[] = TRANSPORT_NAMES): Promise<void> {
  const channel = `fuzz-health-${++healthSeq}`;
  const sessions = await Promise.all(transports.map((t) => openSession(t, srv.url, [channel])));
  try {
    const { offset } = await srv.publish(channel, { after: 'fuzz' });
    await vi.waitFor(
      () => {
        for (const [i, s] of sessions.entries()) {
          expect(s.publications.map((p) => p.offset), `${transports[i]} subscriber`).toContain(offset);
        }
      },
      { timeout: 10_000 },
    );
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}
