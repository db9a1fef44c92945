// Fuzz: connection tokens through every door that takes one — the `token` query parameter (poll,
// SSE, WebSocket upgrade), the Authorization header (poll, client publish, WebSocket upgrade) and
// the WebSocket connect and refresh frames. Strings and near-JWTs of every shape (see
// token-inputs.ts); the answer is the one the token deserves: a table error (token_invalid,
// token_expired, bad_request, ...) or a success as the token's user, never a 5xx.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ErrorCode, PollResponse, PublishResult, SseConnectedEvent, TOKEN_MAX_LENGTH } from '../../contract/index.js';
import { readSse } from '../support/sse-reader.js';
import { type TestServer, startServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { type HttpResult, expectErrorAmong, expectServesEveryTransport, expectSuccess, httpRequest } from './checks.js';
import { wellFormed } from './arbitraries.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { type TokenRecipe, buildToken, expiresFits, tokenRecipe, trespasses, verdictOf } from './token-inputs.js';
import { checkServerFrame, connectPeer } from './ws-peer.js';

type Door = 'poll-query' | 'sse-query' | 'ws-upgrade-query' | 'poll-header' | 'publish-header' | 'ws-upgrade-header' | 'ws-connect' | 'ws-refresh';
type Want = { kind: 'refused'; codes: Set<ErrorCode> } | { kind: 'ok'; user: string | null; exp?: number | undefined };

const LEEWAY_S = 5;
const refused = (...codes: ErrorCode[]): Want => ({ kind: 'refused', codes: new Set(codes) });
/** What node:http lets a client put in a header value. */
const headerSafe = (text: string) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
const isHeaderDoor = (door: Door) => door.endsWith('-header');

/** Request heads past node:http's 16 KB are refused before any route (node:http sends header values as UTF-8): `headers_too_large` is then a right answer too. */
const HEAD_ROOM = 15_000;

function wantAt(door: Door, text: string, recipe: TokenRecipe, maxChannels: number): Want {
  const want = wantOfToken(door, text, recipe, maxChannels);
  const headBytes = door.endsWith('-query') ? encodeURIComponent(text).length : isHeaderDoor(door) ? Buffer.byteLength(text, 'utf8') : 0;
  if (headBytes <= HEAD_ROOM) return want;
  return want.kind === 'ok' ? refused('headers_too_large') : { kind: 'refused', codes: new Set([...want.codes, 'headers_too_large']) };
}

/** The answer a token deserves at a door: the door's own rules first, then the token's verdict. */
function wantOfToken(door: Door, text: string, recipe: TokenRecipe, maxChannels: number): Want {
  const tooLong = text.length > TOKEN_MAX_LENGTH;
  if (door === 'poll-query' || door === 'sse-query') {
    if (text === '') return refused('bad_request');
    if (tooLong) return refused('bad_request');
  }
  // The upgrade reads the query itself: an empty token is no token.
  if (door === 'ws-upgrade-query' && text === '') return { kind: 'ok', user: null };
  if (door === 'ws-connect' || door === 'ws-refresh') {
    if (text === '' || tooLong) return refused('invalid_frame');
  }
  // "Longest token a server accepts in a header, query parameter, cookie or frame" (contract/tokens.ts).
  if (tooLong) return refused('token_invalid');
  // `Bearer <token>` with whitespace in the token (or none) is a malformed header: a token that fails.
  if (isHeaderDoor(door) && !/^\S+$/.test(text)) return refused('token_invalid');
  const v = verdictOf(recipe, Math.floor(Date.now() / 1000), LEEWAY_S);
  if (v.kind === 'refused') return { kind: 'refused', codes: new Set(v.codes) };
  if (door === 'publish-header') return v.user === null ? refused('forbidden') : { kind: 'ok', user: v.user };
  const codes = new Set<ErrorCode>();
  if (trespasses(v.user, v.channels)) codes.add('forbidden');
  if (door === 'ws-refresh' && v.user !== 'ada') codes.add('forbidden');
  if ((door === 'poll-query' || door === 'sse-query' || door === 'poll-header') && new Set(['pub:x', ...v.channels]).size > maxChannels) codes.add('too_many_channels');
  return codes.size > 0 ? { kind: 'refused', codes } : { kind: 'ok', user: v.user, exp: v.exp };
}

/** A connected frame or event names the token's user, and its expiry as the token says. */
function expectIdentity(connected: { user?: string | null | undefined; expires?: number | undefined }, want: Want, what: string): void {
  expect(want.kind, what).toBe('ok');
  if (want.kind !== 'ok') return;
  expect(connected.user, what).toBe(want.user);
  expect(expiresFits(connected.expires, want.exp), `${what}: expires ${connected.expires} for exp ${want.exp}`).toBe(true);
}

describe('fuzz: connection tokens', () => {
  let srv: TestServer;
  let dir: string;
  let secret: string;
  /** ada's valid token, for the connection a refresh is sent on. */
  let adaToken: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubbub-fuzz-tokens-'));
    await writeFile(join(dir, 'hubbub.yaml'), 'namespaces:\n  pub: { publish: authenticated }\n');
    secret = randomBytes(24).toString('hex');
    srv = await startServer({ ...FUZZ_LIMITS, HUBBUB_CONFIG: join(dir, 'hubbub.yaml'), HUBBUB_TOKEN_SECRET: secret, HUBBUB_TOKEN_LEEWAY: String(LEEWAY_S) });
    adaToken = await signToken(secret, { sub: 'ada' }, { expiresIn: 24 * 3600 });
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Sends the token through `door`; checks the answer against `want`; returns the outcome's label. */
  async function knock(door: Door, text: string, want: Want): Promise<string> {
    const what = `${door} with token ${JSON.stringify(text.slice(0, 300))}${text.length > 300 ? `… (${text.length} chars)` : ''}`;
    const query = () => `token=${encodeURIComponent(text)}`;
    const auth = { authorization: `Bearer ${headerSafe(text)}` };
    const judge = (res: HttpResult, ok: (res: HttpResult) => void): string => {
      if (want.kind === 'refused') return expectErrorAmong(res, want.codes, what).code;
      ok(res);
      return 'ok';
    };
    const poll = (res: HttpResult) => expect(expectSuccess(res, PollResponse, what).subscriptions[0]?.channel, what).toBe('pub:x');
    switch (door) {
      case 'poll-query':
        return judge(await httpRequest(srv.app.port, { method: 'GET', path: `/poll?channels=pub:x&timeout=0&${query()}`, headers: {} }), poll);
      case 'poll-header':
        return judge(await httpRequest(srv.app.port, { method: 'GET', path: '/poll?channels=pub:x&timeout=0', headers: auth }), poll);
      case 'publish-header': {
        const body = JSON.stringify({ channel: 'pub:x', data: 1 });
        const res = await httpRequest(srv.app.port, { method: 'POST', path: '/publish', headers: { ...auth, 'content-type': 'application/json' }, body });
        return judge(res, (r) => expect(expectSuccess(r, PublishResult, what).channel, what).toBe('pub:x'));
      }
      case 'sse-query': {
        const { res, connected } = await sseConnected(`/sse?channels=pub:x&${query()}`);
        return judge(res, () => expectIdentity(SseConnectedEvent.parse(connected), want, what));
      }
      case 'ws-upgrade-query':
      case 'ws-upgrade-header': {
        const answer = await upgrade(door === 'ws-upgrade-query' ? `?${query()}` : '', door === 'ws-upgrade-header' ? auth : {});
        if ('greeting' in answer) {
          expect(want.kind, `${what}: upgraded, expected ${want.kind === 'refused' ? [...want.codes].join('/') : ''}`).toBe('ok');
          const greeting = checkServerFrame(answer.greeting);
          expect(greeting.type, what).toBe('connected');
          if (greeting.type === 'connected') expectIdentity(greeting, want, what);
          return 'ok';
        }
        return judge(answer, () => expect.fail(`${what}: refused with ${answer.status} ${answer.text}`));
      }
      case 'ws-connect':
      case 'ws-refresh':
        return frame(door, text, want, what);
    }
  }

  async function frame(door: 'ws-connect' | 'ws-refresh', text: string, want: Want, what: string): Promise<string> {
    const peer = await connectPeer(srv.wsUrl);
    try {
      if (door === 'ws-refresh') {
        peer.send(JSON.stringify({ id: 1, type: 'connect', token: adaToken }), false);
        await peer.until(() => peer.frames.some((f) => (f.json as { id?: unknown }).id === 1), 'the connect reply');
      }
      const id = door === 'ws-connect' ? 1 : 2;
      peer.send(JSON.stringify({ id, type: door === 'ws-connect' ? 'connect' : 'refresh', token: text }), false);
      await peer.until(() => peer.frames.some((f) => (f.json as { id?: unknown }).id === id), 'the reply');
      expect(peer.closeCode, `${what}: closed`).toBeUndefined();
      const frames = peer.frames.map(checkServerFrame);
      const reply = frames.find((f) => 'id' in f && f.id === id)!;
      if (want.kind === 'refused') {
        expect(reply.type === 'error' && [...want.codes].includes(reply.code), `${what}: ${JSON.stringify(reply)}, expected ${[...want.codes].join('/')}`).toBe(true);
        return reply.type === 'error' ? reply.code : reply.type;
      }
      if (door === 'ws-connect') {
        expect(reply.type, what).toBe('connected');
        if (reply.type === 'connected') expectIdentity(reply, want, what);
      }
      else expect(reply, what).toMatchObject({ type: 'refreshed' });
      return 'ok';
    } finally {
      await peer.close();
    }
  }

  /** An SSE request: its error answer, or its first event (`connected`) once the stream opened. */
  function sseConnected(path: string): Promise<{ res: HttpResult; connected?: unknown }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: srv.app.port, path, agent: false }, async (res) => {
        const head = { status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '' };
        try {
          if (head.status !== 200) {
            const chunks: Buffer[] = [];
            for await (const c of res) chunks.push(c as Buffer);
            return resolve({ res: { ...head, text: Buffer.concat(chunks).toString('utf8') } });
          }
          for await (const ev of readSse(res as unknown as ReadableStream<Uint8Array>)) {
            req.destroy();
            return resolve({ res: { ...head, text: '' }, connected: ev.event === 'connected' ? JSON.parse(ev.data) : ev });
          }
          reject(new Error('the stream ended without an event'));
        } catch (err) {
          reject(err);
        }
      });
      req.on('error', reject);
    });
  }

  /** A WebSocket upgrade: the refusal as an HTTP answer, or the greeting frame. */
  function upgrade(query: string, headers: Record<string, string>): Promise<HttpResult | { greeting: { raw: string; json: unknown } }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(srv.wsUrl + query, { headers });
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }));
      });
      ws.once('message', (data) => {
        const raw = String(data);
        ws.close();
        resolve({ greeting: { raw, json: JSON.parse(raw) } });
      });
      ws.on('error', (err) => (err.message.startsWith('Unexpected server response') ? undefined : reject(err)));
    });
  }

  const property = (doors: Door[]) =>
    fc.record({ door: fc.constantFrom(...doors), recipe: tokenRecipe });

  const run = (name: string, doors: Door[]) =>
    fuzz(name, srv, property(doors), async ({ door, recipe }) => {
      const text = buildToken(recipe, secret, Math.floor(Date.now() / 1000));
      // What a client can send: header-safe characters, well-formed UTF-16 in a URL.
      const sent = isHeaderDoor(door) ? headerSafe(text) : door.endsWith('-query') ? wellFormed(text) : text;
      const want = wantAt(door, sent, recipe, srv.config.maxChannels);
      return `${door}: ${await knock(door, sent, want)}`;
    });

  it('tokens in the query string: poll, SSE and the WebSocket upgrade', () => run('tokens in the query', ['poll-query', 'sse-query', 'ws-upgrade-query']), fuzzTimeout(30));

  it('tokens in the Authorization header: poll, client publish and the WebSocket upgrade', () =>
    run('tokens in the Authorization header', ['poll-header', 'publish-header', 'ws-upgrade-header']), fuzzTimeout(30));

  it('tokens in WebSocket connect and refresh frames', () => run('tokens in connect and refresh frames', ['ws-connect', 'ws-refresh']), fuzzTimeout(30));

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
