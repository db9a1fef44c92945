// Fuzz: the admin dashboard's API (contract/admin.ts) with any route, body, session cookie, CSRF
// header and Origin. Answers must be the contract's, and nothing but the real session cookie with
// its CSRF token (or the right secret at sign-in, never generated here) may get a 2xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminSession } from '../../contract/index.js';
import { type TestServer, startServer } from '../support/server.js';
import { channelLike, encodeAs, encoding, oddString } from './arbitraries.js';
import { checkHttpAnswer, expectServesEveryTransport, httpRequest } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';

const PASSWORD = 'fuzz-admin-password-0123';

const ROUTES = [
  ['POST', 'login'],
  ['POST', 'logout'],
  ['GET', 'session'],
  ['GET', 'nodes'],
  ['GET', 'channels'],
  ['GET', 'channels/{channel}'],
  ['POST', 'publish'],
  ['POST', 'disconnect'],
  ['POST', 'tail-token'],
  ['GET', 'config'],
] as const;

const jsonBody = fc.oneof(
  fc.record({ secret: oddString(40) }, { requiredKeys: [] }),
  fc.record({ channel: channelLike, data: fc.jsonValue({ maxDepth: 3 }), event: oddString(12) }, { requiredKeys: [] }),
  fc.record({ user: oddString(20) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);

interface AdminInput {
  route: (typeof ROUTES)[number];
  channel: string;
  mode: Parameters<typeof encodeAs>[1];
  method: string;
  body: string | undefined;
  cookie: 'none' | 'real' | 'forged' | 'junk';
  csrf: 'none' | 'real' | 'junk';
  origin: string | undefined;
  junkText: string;
}

const adminInput: fc.Arbitrary<AdminInput> = fc.record({
  route: fc.constantFrom(...ROUTES),
  channel: channelLike,
  mode: encoding,
  method: fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') }),
  body: fc.oneof(
    { weight: 4, arbitrary: jsonBody.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: oddString(60) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ),
  cookie: fc.constantFrom('none', 'real', 'forged', 'junk'),
  csrf: fc.constantFrom('none', 'real', 'junk'),
  origin: fc.option(fc.constantFrom('http://127.0.0.1', 'http://evil.example', 'null', ''), { nil: undefined }),
  junkText: oddString(40),
});

describe('fuzz: admin dashboard API', () => {
  let srv: TestServer;
  let real: { cookie: string; csrf: string };

  beforeAll(async () => {
    srv = await startServer({ ...FUZZ_LIMITS, HUBBUB_ADMIN_PASSWORD: PASSWORD });
    const res = await fetch(`${srv.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret: PASSWORD }) });
    expect(res.status).toBe(200);
    real = { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: AdminSession.parse(await res.json()).csrf };
  });
  afterAll(() => srv?.close());

  it(
    'every route, body, cookie, CSRF token and origin gets the contract answer; only the real session is let in',
    () =>
      fuzz('admin api', srv, adminInput, async (input) => {
        const [defaultMethod, route] = input.route;
        const method = input.method || defaultMethod;
        const path = `/admin/api/${route.replace('{channel}', encodeAs(input.channel, input.mode))}`;
        const headers: Record<string, string> = {};
        if (input.body !== undefined) headers['content-type'] = 'application/json';
        if (input.cookie === 'real') headers['cookie'] = real.cookie;
        // The real cookie's value with its signature's last characters changed, or anything at all.
        if (input.cookie === 'forged') headers['cookie'] = `${real.cookie.slice(0, -4)}AAAA`;
        // Any bytes a header value can carry (latin1 without control characters).
        const junk = Buffer.from(input.junkText).toString('latin1').replace(/[\x00-\x1f\x7f]/g, '.');
        if (input.cookie === 'junk') headers['cookie'] = `hubbub_admin=${junk}`;
        if (input.csrf === 'real') headers['x-csrf-token'] = real.csrf;
        if (input.csrf === 'junk') headers['x-csrf-token'] = junk;
        if (input.origin !== undefined) headers['origin'] = input.origin;
        // Logout ends nothing server-side (the cookie is stateless), so the real session stays valid.
        const res = await httpRequest(srv.app.port, { method, path, headers, ...(input.body === undefined ? {} : { body: input.body }) });
        const error = checkHttpAnswer(res, `${method} ${path}`);
        if (error) return error.code;
        const sessionOk = input.cookie === 'real' && (method === 'GET' || input.csrf === 'real');
        // Sign-in with a generated secret never matches the password; everything else needs the session.
        expect(sessionOk || (route === 'logout' && method === 'POST'), `${method} ${path} answered ${res.status} without the session`).toBe(true);
        return `ok ${route}`;
      }),
    fuzzTimeout(15),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
