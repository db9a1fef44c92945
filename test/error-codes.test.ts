import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_TABLE, type ErrorCode, ErrorBody, type JsonData, MAX_DATA_DEPTH } from '../contract/index.js';
import { BrokerUnavailableError } from '../server/broker/broker.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { type TestServer, TEST_API_KEY, startServer } from './support/server.js';
import { serverSecret, signToken } from './support/tokens.js';
import { WebhookReceiver } from './support/webhook-receiver.js';
import { connectWs } from './support/ws-client.js';

/** A memory broker whose publish fails the way a real backbone can. */
class FailingBroker extends MemoryBroker {
  constructor(private readonly failure: () => Error) {
    super({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
  }
  override async publish(_channel: string, _data: JsonData): Promise<never> {
    throw this.failure();
  }
}

/** A memory broker whose position() never answers: a subscribe stays pending as long as the test needs. */
class StuckPositionBroker extends MemoryBroker {
  constructor() {
    super({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
  }
  override position(): Promise<never> {
    return new Promise(() => undefined);
  }
}

type Produced = { status: number; body: unknown };

/** A request no HTTP client would send, over raw TCP; the answer's status and JSON body. */
function rawRequest(port: number, text: string): Promise<Produced> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const response = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = response.split('\r\n\r\n');
      try {
        resolve({ status: Number(head.split(' ')[1]), body: JSON.parse(body) });
      } catch (err) {
        reject(new Error(`not a JSON answer: ${response.slice(0, 200)}`, { cause: err }));
      }
    });
  });
}
const json = async (res: Response): Promise<Produced> => ({ status: res.status, body: await res.json() });
const post = (srv: TestServer, path: string, body: string, headers: Record<string, string> = {}) =>
  srv.api(path, { method: 'POST', body, headers }).then(json);

async function wsError(srv: TestServer, frames: unknown[]): Promise<Produced> {
  const peer = await connectWs(srv.wsUrl);
  for (const f of frames) peer.send(f);
  const err = await peer.next('error');
  await peer.close();
  const { type: _t, id: _id, ...body } = err;
  return { status: ERROR_TABLE[err.code].status, body };
}

/** A client publish to a namespace whose publish proxy answers `status` (0: the proxy is down). */
async function proxiedPublish(start: Start, status: number): Promise<Produced> {
  const receiver = await WebhookReceiver.start();
  receiver.respond = () => ({ status, body: {} });
  if (status === 0) await receiver.close();
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-proxy-'));
  try {
    const file = join(dir, 'hubbub.yaml');
    await writeFile(file, `namespaces:\n  mod:\n    publish: authenticated\n    publishProxy: { url: "${receiver.url}/proxy" }\n`);
    const secret = 'error-codes-token-secret-0123456789abcdef';
    const srv = await start({ HUBBUB_CONFIG: file, HUBBUB_TOKEN_SECRET: secret });
    const token = await signToken(secret, { sub: 'ada' });
    return await fetch(`${srv.url}/publish?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"channel":"mod:a","data":1}' }).then(json);
  } finally {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** How to make the server answer with each code. Every row of ERROR_TABLE must be here. */
type Start = (env: Record<string, string>) => Promise<TestServer>;
const PRODUCERS: Record<ErrorCode, (srv: TestServer, setBroker: (b: MemoryBroker) => Promise<TestServer>, start: Start) => Promise<Produced>> = {
  bad_request: (srv) => post(srv, '/api/publish', JSON.stringify({ data: 1 })),
  data_too_deep: (srv) =>
    post(srv, '/api/publish', `{"channel":"deep","data":${'['.repeat(MAX_DATA_DEPTH + 1)}${']'.repeat(MAX_DATA_DEPTH + 1)}}`),
  invalid_json: (srv) => post(srv, '/api/publish', '{"channel": "a", '),
  invalid_channel: (srv) => post(srv, '/api/publish', JSON.stringify({ channel: 'no spaces allowed', data: 1 })),
  invalid_cursor: (srv) => fetch(`${srv.url}/poll?channels=a,b&cursor=nonsense`).then(json),
  invalid_frame: (srv) => wsError(srv, ['{not json']),
  too_many_channels: (srv) =>
    fetch(`${srv.url}/sse?channels=${Array.from({ length: 129 }, (_, i) => `c${i}`).join(',')}`).then(json),
  token_invalid: (srv) => fetch(`${srv.url}/poll?channels=a&token=not.a.jwt`).then(json),
  token_expired: async (srv) => {
    const token = await signToken(serverSecret(srv.config), { sub: 'ada' }, { expiresIn: -60 });
    return fetch(`${srv.url}/poll?channels=a`, { headers: { authorization: `Bearer ${token}` } }).then(json);
  },
  forbidden: (srv) => fetch(`${srv.url}/poll?channels=${encodeURIComponent('notifications:#ada')}`).then(json),
  rate_limited: async (_srv, _setBroker, start) => {
    const limited = await start({ HUBBUB_LIMIT_CONNECTION_RATE: '1' });
    // The burst is five seconds' worth: the sixth request within a second is refused.
    for (let i = 0; i < 5; i++) expect((await fetch(`${limited.url}/poll?channels=a&timeout=0`)).status).toBe(200);
    const res = await fetch(`${limited.url}/poll?channels=a&timeout=0`);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    return json(res);
  },
  unauthorized: (srv) => fetch(`${srv.url}/api/info`, { headers: { authorization: 'Bearer wrong' } }).then(json),
  admin_login_failed: async (_srv, _setBroker, start) => {
    const admin = await start({ HUBBUB_ADMIN_PASSWORD: 'correct horse battery' });
    return fetch(`${admin.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"secret":"wrong password!"}' }).then(json);
  },
  admin_session_required: async (_srv, _setBroker, start) => {
    const admin = await start({ HUBBUB_ADMIN_PASSWORD: 'correct horse battery' });
    return fetch(`${admin.url}/admin/api/nodes`).then(json);
  },
  publish_rejected: (_srv, _setBroker, start) => proxiedPublish(start, 403),
  webhook_unavailable: (_srv, _setBroker, start) => proxiedPublish(start, 0),
  not_found: (srv) => fetch(`${srv.url}/no/such/thing`).then(json),
  method_not_allowed: (srv) => srv.api('/api/publish', { method: 'DELETE' }).then(json),
  already_subscribed: (srv) =>
    wsError(srv, [
      { id: 1, type: 'subscribe', channel: 'dup' },
      { id: 2, type: 'subscribe', channel: 'dup' },
    ]),
  cancelled: async (_srv, setBroker) => {
    const stuck = await setBroker(new StuckPositionBroker());
    return wsError(stuck, [
      { id: 1, type: 'subscribe', channel: 'pending' },
      { id: 2, type: 'unsubscribe', channel: 'pending' },
    ]);
  },
  not_subscribed: (srv) => wsError(srv, [{ id: 1, type: 'unsubscribe', channel: 'never' }]),
  unrecoverable_position: async (srv) => {
    await srv.publish('h', 1);
    return srv.api('/api/channels/h/history?since=oldepoch:0').then(json);
  },
  payload_too_large: (srv) => post(srv, '/api/publish', JSON.stringify({ channel: 'big', data: 'x'.repeat(70_000) })),
  unsupported_media_type: (srv) => post(srv, '/api/publish', 'channel=a', { 'content-type': 'text/plain' }),
  upgrade_required: (srv) => fetch(`${srv.url}/ws`).then(json),
  headers_too_large: (srv) => rawRequest(srv.app.port, `GET /api/info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`),
  internal: async (_srv, setBroker) => {
    const failing = await setBroker(new FailingBroker(() => new Error('disk on fire')));
    return post(failing, '/api/publish', JSON.stringify({ channel: 'a', data: 1 }));
  },
  unavailable: async (_srv, setBroker) => {
    const failing = await setBroker(new FailingBroker(() => new BrokerUnavailableError('nats is down')));
    return post(failing, '/api/publish', JSON.stringify({ channel: 'a', data: 1 }));
  },
};

describe('error codes', () => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('has a producer for every row of the error table', () => {
    expect(Object.keys(PRODUCERS).sort()).toEqual(Object.keys(ERROR_TABLE).sort());
  });

  it.each(Object.keys(ERROR_TABLE) as ErrorCode[])('%s: status, code and body come from the table', async (code) => {
    const srv = await startServer();
    servers.push(srv);
    const setBroker = async (broker: MemoryBroker) => {
      const s = await startServer({}, { broker });
      servers.push(s);
      return s;
    };
    const start = async (env: Record<string, string>) => {
      const s = await startServer(env);
      servers.push(s);
      return s;
    };
    const { status, body } = await PRODUCERS[code](srv, setBroker, start);
    expect(status).toBe(ERROR_TABLE[code].status);
    const parsed = ErrorBody.parse(body);
    expect(parsed.code).toBe(code);
    expect(parsed.retryable).toBe(ERROR_TABLE[code].retryable);
    expect(parsed.message.length).toBeGreaterThan(0);
    // The node keeps serving after the bad request.
    expect((await srv.publish('after', 'ok')).offset).toBe(1);
  });

  it('lists the zod issues with their paths on a contract violation', async () => {
    await using srv = await startServer();
    const { body } = await post(srv, '/api/publish', JSON.stringify({ channel: 'ok', data: 1, extra: true }));
    const parsed = ErrorBody.parse(body);
    expect(parsed.code).toBe('bad_request');
    expect(parsed.issues?.[0]?.path).toBe('body');
    expect(parsed.issues?.[0]?.message).toMatch(/extra/);
  });

  it('accepts the key only as an exact bearer token', async () => {
    await using srv = await startServer();
    for (const header of [TEST_API_KEY, `bearer ${TEST_API_KEY}`, `Bearer ${TEST_API_KEY}x`, '']) {
      const res = await fetch(`${srv.url}/api/info`, { headers: { authorization: header } });
      expect(res.status).toBe(401);
    }
  });
});
