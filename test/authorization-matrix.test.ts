// The authorization matrix: every identity × channel kind × operation, on every transport and
// both backbones, each cell checked against a small oracle written here from the rules of
// issue #7 — never by asking server/session/policy.ts. A cell that disagrees names itself.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Attempt, type Operation, type Seen, attempt } from './support/access-probe.js';
import { BACKBONES, type Backbone, type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { TRANSPORT_NAMES, type TransportName } from './support/raw-clients.js';
import { signToken, unsecuredToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

/* ---------- The rules ---------- */

type Identity = 'anonymous' | 'ada' | 'expired' | 'wrong-signature' | 'alg-none' | 'bob' | 'revoked';
type ChannelKind = 'public' | 'members' | 'user' | 'private+token' | 'private';
type Outcome = 'ok' | 'token_expired' | 'token_invalid' | 'forbidden';

const IDENTITIES: Identity[] = ['anonymous', 'ada', 'expired', 'wrong-signature', 'alg-none', 'bob', 'revoked'];
const KINDS: ChannelKind[] = ['public', 'members', 'user', 'private+token', 'private'];
const OPERATIONS: Operation[] = ['subscribe', 'recover', 'publish'];

/** Token failures come first, whatever the channel. */
const TOKEN_FAILURE: Partial<Record<Identity, Outcome>> = {
  expired: 'token_expired',
  'wrong-signature': 'token_invalid',
  'alg-none': 'token_invalid',
  revoked: 'token_invalid',
};
const USER: Record<Identity, string | null> = { anonymous: null, ada: 'ada', bob: 'bob', expired: 'ada', 'wrong-signature': 'ada', 'alg-none': 'ada', revoked: 'ada' };

/** The namespaces of the config file; `notifications` says anyone, but its `#ada` channel is ada's alone. */
const NAMESPACES = {
  pub: { subscribe: 'anyone', publish: 'authenticated' },
  members: { subscribe: 'authenticated', publish: 'subscribers' },
  notifications: { subscribe: 'anyone', publish: 'nobody' },
  secret: { subscribe: 'token', publish: 'subscribers' },
} as const;

/** Read channels have a backlog (offsets 1..3); publishes go elsewhere, so no cell moves another's position. */
const CHANNELS: Record<ChannelKind, { read: string; write: string }> = {
  public: { read: 'pub:r', write: 'pub:w' },
  members: { read: 'members:r', write: 'members:w' },
  user: { read: 'notifications:#ada', write: 'notifications:#ada' },
  'private+token': { read: 'secret:r', write: 'secret:w' },
  private: { read: 'secret:r', write: 'secret:w' },
};
const BACKLOG = 3;

/** Subscribe (and recover): user channel → its user; public → anyone; members → users; private → with ada's subscription token, for ada. */
function maySubscribe(user: string | null, kind: ChannelKind): boolean {
  if (kind === 'user') return user === 'ada';
  if (kind === 'public') return true;
  if (kind === 'members') return user !== null;
  if (kind === 'private+token') return user === 'ada';
  return false;
}

/** Client publish follows the namespace's rule; a publish never carries a subscription token. */
function mayPublish(user: string | null, kind: ChannelKind): boolean {
  const ns = CHANNELS[kind].write.split(':')[0] as keyof typeof NAMESPACES;
  const rule = NAMESPACES[ns].publish;
  if (rule === 'nobody' || user === null) return false;
  if (rule === 'authenticated') return true;
  return maySubscribe(user, kind === 'private+token' ? 'private' : kind);
}

function oracle(identity: Identity, kind: ChannelKind, operation: Operation): Outcome {
  const failure = TOKEN_FAILURE[identity];
  if (failure) return failure;
  const user = USER[identity];
  const allowed = operation === 'publish' ? mayPublish(user, kind) : maySubscribe(user, kind);
  return allowed ? 'ok' : 'forbidden';
}

const STATUS: Record<Outcome, number> = { ok: 200, token_expired: 401, token_invalid: 401, forbidden: 403 };

/** What the client must see: on WebSocket a token failure is the connect reply, on SSE/poll every answer has its status. */
function expected(transport: TransportName, outcome: Outcome): Seen {
  if (transport !== 'websocket') return { outcome, status: STATUS[outcome] };
  return { outcome, at: TOKEN_FAILURE_CODES.has(outcome) ? 'connect' : 'command' };
}
const TOKEN_FAILURE_CODES = new Set<Outcome>(['token_expired', 'token_invalid']);

const CONFIG = `
defaults: { subscribe: anyone, publish: nobody }
namespaces:
${Object.entries(NAMESPACES)
  .map(([ns, o]) => `  ${ns}: { subscribe: ${o.subscribe}, publish: ${o.publish} }`)
  .join('\n')}
`;

/** Hundreds of connections and failed tokens a second from one address: the limits are tested elsewhere. */
const LIFTED = {
  HUBBUB_LIMIT_CONNECTION_RATE: '1000000',
  HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1000000',
  HUBBUB_LIMIT_AUTH_FAILURES: '1000000',
  HUBBUB_LIMIT_PUBLISHES: '1000000',
};
/** Cells in flight at once per transport. */
const CONCURRENCY = 24;

/* ---------- Running it ---------- */

interface Fixture {
  srv: ConfiguredServer;
  tokens: Record<Identity, string | undefined>;
  subscriptionToken: string;
  positions: Map<string, { epoch: string; offset: number }>;
}

/** ada's token from before the disconnect: used by a live connection, disconnected through the API, then refused. */
async function revokeAda(srv: ConfiguredServer): Promise<string> {
  // Signed a few seconds earlier: a token signed in the very second of the disconnect still passes.
  const old = await signToken(srv.secret, { sub: 'ada' }, { expiresIn: 3600, issuedAt: Math.floor(Date.now() / 1000) - 5 });
  const live = await connectWs(srv.url.replace('http', 'ws') + '/ws');
  live.send({ id: 1, type: 'connect', token: old });
  expect(await live.next('connected', (f) => f.id === 1)).toMatchObject({ user: 'ada' });
  const res = await srv.api('/api/users/ada/disconnect', { method: 'POST' });
  expect([res.status, await res.json()]).toEqual([200, { user: 'ada', connections: 1 }]);
  expect(await live.closeCode).toBe(4500);
  return old;
}

async function setUp(backbone: Backbone): Promise<Fixture> {
  const srv = await startConfigured(backbone, CONFIG, LIFTED);
  const positions = new Map<string, { epoch: string; offset: number }>();
  for (const channel of new Set(KINDS.map((k) => CHANNELS[k].read))) {
    for (let i = 1; i <= BACKLOG; i++) positions.set(channel, await srv.publish(channel, { backlog: i }));
  }
  const revoked = await revokeAda(srv);
  const now = Math.floor(Date.now() / 1000);
  const tokens: Fixture['tokens'] = {
    anonymous: undefined,
    ada: await signToken(srv.secret, { sub: 'ada' }, { expiresIn: 3600 }),
    expired: await signToken(srv.secret, { sub: 'ada' }, { expiresIn: -60, issuedAt: now - 120 }),
    'wrong-signature': await signToken(`${srv.secret}-not`, { sub: 'ada' }, { expiresIn: 3600 }),
    'alg-none': unsecuredToken({ sub: 'ada', exp: now + 3600 }),
    bob: await signToken(srv.secret, { sub: 'bob' }, { expiresIn: 3600 }),
    revoked,
  };
  const subscriptionToken = await signToken(srv.secret, { sub: 'ada', channel: CHANNELS['private+token'].read }, { expiresIn: 3600 });
  return { srv, tokens, subscriptionToken, positions };
}

interface Cell {
  identity: Identity;
  kind: ChannelKind;
  operation: Operation;
}

const CELLS: Cell[] = IDENTITIES.flatMap((identity) => KINDS.flatMap((kind) => OPERATIONS.map((operation) => ({ identity, kind, operation }))));

function attemptOf(f: Fixture, transport: TransportName, cell: Cell): Attempt {
  const channel = cell.operation === 'publish' ? CHANNELS[cell.kind].write : CHANNELS[cell.kind].read;
  return {
    transport,
    operation: cell.operation,
    channel,
    token: f.tokens[cell.identity],
    subscriptionToken: cell.kind === 'private+token' && cell.operation !== 'publish' ? f.subscriptionToken : undefined,
    current: f.positions.get(channel) ?? { epoch: 'none', offset: 0 },
  };
}

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return out;
}

describe.each(BACKBONES)('authorization matrix on the %s backbone', (backbone) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await setUp(backbone);
  });
  afterAll(() => f?.srv.close());

  it.each(TRANSPORT_NAMES)(`%s: ${CELLS.length} cells (identity × channel × operation) match the oracle`, async (transport) => {
    const seen = await pool(CELLS, CONCURRENCY, async (cell) => {
      const got = await attempt(f.srv.url, attemptOf(f, transport, cell));
      return { cell: `${cell.identity} × ${cell.kind} × ${cell.operation}`, got, want: expected(transport, oracle(cell.identity, cell.kind, cell.operation)) };
    });
    const wrong = seen.filter((s) => !isDeepStrictEqual(s.got, s.want));
    expect(wrong, `${wrong.length} of ${seen.length} cells disagree with the oracle`).toEqual([]);
    // Every outcome of the oracle shows up somewhere, so no column passes by refusing everything.
    expect(new Set(seen.map((s) => s.want.outcome))).toEqual(new Set(['ok', 'forbidden', 'token_expired', 'token_invalid']));
  });
});
