import http from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../server/http/direct-route.js';
import { koaQuery } from './support/koa-query.js';
import { signToken } from './support/tokens.js';
import { type TestServer, startServer } from './support/server.js';

// /poll and /sse are answered before Koa (server/http/direct-route.ts). That door must answer every
// request exactly as Koa's route does: the same status, headers and body, refusals included. The
// same requests go to a server with the direct route and to one without it (directRoutes: false).

const APP = 'https://app.example.com';

interface Answer {
  status: number;
  message: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function request(srv: TestServer, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}${path}`, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const { date: _date, ...rest } = res.headers;
        resolve({ status: res.statusCode!, message: res.statusMessage!, headers: rest, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The server's own epochs and publication times read the same on both servers. */
function normalized(a: Answer, epochs: string[], method: string): Answer {
  // Empty positions carry the time the channel was seen empty (contract/empty-epoch.ts).
  let body = a.body.replace(/"time":\d+/g, '"time":0').replace(/\b0[0-9a-z]{9}:0\b/g, 'EMPTY:0').replace(/"0[0-9a-z]{9}"/g, '"EMPTY"');
  for (const e of epochs) body = body.replaceAll(e, 'EPOCH');
  const headers = { ...a.headers };
  if (headers['content-length'] !== undefined && method !== 'HEAD') {
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(a.body));
    delete headers['content-length'];
  }
  return { ...a, body, headers };
}

type Case = [method: string, name: string, status: number, path: (epoch: string) => string, headers?: Record<string, string>];

/** Sends every case to both servers in turn and expects the same answers, with the status the case is about. */
async function sameAnswers(env: Record<string, string>, cases: Case[]): Promise<void> {
  await using direct = await startServer(env);
  await using koa = await startServer(env, { directRoutes: false });
  const setups = await Promise.all(
    [direct, koa].map(async (srv) => {
      const a = await srv.publish('d:a', 1);
      await srv.publish('d:a', 2);
      return { srv, epoch: a.epoch };
    }),
  );
  for (const [method, name, status, path, headers] of cases) {
    const [a, b] = (await Promise.all(setups.map(({ srv, epoch }) => request(srv, method, path(epoch), headers).then((r) => normalized(r, [epoch], method))))) as [Answer, Answer];
    expect({ name, ...a }).toEqual({ name, ...b });
    expect({ name, status: a.status }).toEqual({ name, status });
  }
  // The refusals were counted alike, through Koa's error policy or the direct route's.
  expect(direct.app.clientErrors.counts()).toEqual(koa.app.clientErrors.counts());
}

describe('the direct route answers as Koa does', () => {
  it('for successes, refusals and everything it leaves to Koa, on /poll and /sse', async () => {
    const secret = 'direct-route-secret-0123456789abcdef';
    const token = await signToken(secret, { sub: 'ada' });
    const expired = await signToken(secret, { sub: 'ada' }, { expiresIn: -60 });
    await sameAnswers({ HUBBUB_ALLOWED_ORIGINS: APP, HUBBUB_TOKEN_SECRET: secret }, [
      ['GET', 'first poll', 200, () => '/poll?channels=d:a'],
      ['GET', 'news after the cursor', 200, (e) => `/poll?channels=d:a&cursor=${e}:0`],
      ['GET', 'two channels, extra keys, a timeout', 200, (e) => `/poll?channels=d:a,d:b&cursor=${e}:1,&x=1&timeout=0`],
      ['GET', 'nothing new, timeout 0', 200, (e) => `/poll?channels=d:a&cursor=${e}:2&timeout=0`],
      ['GET', 'a leading ? in the query', 200, () => '/poll??channels=d:a'],
      ['GET', 'encoded query', 200, () => '/poll?channels=d%3Aa&x=a+b'],
      ['GET', 'a blank subscription token', 401, () => '/poll?channels=d:a&tokens=+'],
      ['GET', 'allowed origin', 200, () => '/poll?channels=d:a', { origin: APP }],
      ['GET', 'refused origin', 403, () => '/poll?channels=d:a', { origin: 'https://evil.example.net' }],
      ['GET', 'allowed origin, refused request', 400, () => '/poll?channels=bad%20name', { origin: APP }],
      ['GET', 'invalid channel', 400, () => '/poll?channels=bad%20name'],
      ['GET', 'a channel twice', 400, () => '/poll?channels=d:a,d:a'],
      ['GET', 'channels given twice (the contract refuses)', 400, () => '/poll?channels=d:a&channels=d:b'],
      ['GET', 'timeout not a number', 400, () => '/poll?channels=d:a&timeout=soon'],
      ['GET', 'no channels', 400, () => '/poll'],
      ['GET', 'bad cursor', 400, () => '/poll?channels=d:a&cursor=nope'],
      ['GET', 'empty token (the contract refuses)', 400, () => '/poll?channels=d:a&token='],
      ['GET', 'invalid token', 401, () => '/poll?channels=d:a&token=not.a.jwt'],
      ['GET', 'expired token', 401, () => '/poll?channels=d:a', { authorization: `Bearer ${expired}` }],
      ['GET', 'token in the query', 200, () => `/poll?channels=d:a&token=${token}`],
      ['GET', 'user channel of another user', 403, () => '/poll?channels=n:%23bob', { authorization: `Bearer ${token}` }],
      ['GET', 'a fragment (parseurl reads it otherwise)', 200, () => '/poll?channels=d:a#x'],
      ['GET', 'trailing slash', 200, () => '/poll/?channels=d:a'],
      ['HEAD', 'HEAD', 200, () => '/poll?channels=d:a'],
      ['POST', 'POST', 405, () => '/poll?channels=d:a'],
      ['OPTIONS', 'preflight', 204, () => '/poll', { origin: APP, 'access-control-request-method': 'GET' }],
      ['GET', 'sse: refused', 400, () => '/sse?channels=bad%20name'],
      ['GET', 'sse: bad Last-Event-ID', 400, () => '/sse?channels=d:a', { 'last-event-id': 'nope' }],
      ['GET', 'sse: too many tokens', 400, () => '/sse?channels=d:a&tokens=a,b'],
    ]);
  });

  it('when the address is over its connection rate (Retry-After)', async () => {
    // One request a second, bursts of five: the sixth is refused.
    const poll: Case = ['GET', 'within the burst', 200, () => '/poll?channels=d:a'];
    await sameAnswers({ HUBBUB_LIMIT_CONNECTION_RATE: '1' }, [poll, poll, poll, poll, poll, ['GET', 'over the rate', 429, () => '/poll?channels=d:a']]);
  });
});

describe('parseQuery', () => {
  it('reads a query as Koa does, for any text', () => {
    const piece = fc.constantFrom('a', 'b', '=', '&', '?', '%', '%3D', '%zz', '+', ' ', 'é', '__proto__', 'constructor', 'channels', 'x:1', ',', '%E2%82%AC', '%C3');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 16 }), (parts) => {
        const text = parts.join('');
        const ours = parseQuery(text);
        const koas = koaQuery.parse(text);
        expect(Object.entries(ours)).toEqual(Object.entries(koas));
        expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(koas));
      }),
      { numRuns: 2000 },
    );
  });
});
