import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenError, TokenVerifier } from '../server/auth/tokens.js';

const SECRET = 'a-shared-secret-of-enough-length-0123';
const now = () => Math.floor(Date.now() / 1000);
const hmac = new TextEncoder().encode(SECRET);

type Key = Parameters<SignJWT['sign']>[0];

function sign(claims: Record<string, unknown>, key: Key, alg: string, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, ...header }).sign(key);
}

async function rejection(p: Promise<unknown>): Promise<TokenError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenError);
  return err as TokenError;
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('TokenVerifier with a shared secret', () => {
  const verifier = TokenVerifier.create({ secret: SECRET })!;

  it.each(['HS256', 'HS384', 'HS512'])('accepts %s and reads sub, info, channels and exp', async (alg) => {
    const exp = now() + 60;
    const token = await sign({ sub: 'ada', info: { name: 'Ada' }, channels: ['news:#ada'], exp }, hmac, alg);
    expect(await verifier.connection(token)).toEqual({ user: 'ada', info: { name: 'Ada' }, channels: ['news:#ada'], expiresAt: exp * 1000 });
  });

  it('treats sub "" as anonymous', async () => {
    const id = await verifier.connection(await sign({ sub: '' }, hmac, 'HS256'));
    expect(id.user).toBeNull();
  });

  it('refuses alg none, a wrong secret, an expired token and a future nbf', async () => {
    const unsecured = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'ada' })}.`;
    expect((await rejection(verifier.connection(unsecured))).reason).toBe('invalid');
    const wrong = await sign({ sub: 'ada' }, new TextEncoder().encode('another-secret-entirely-0123456789'), 'HS256');
    expect((await rejection(verifier.connection(wrong))).reason).toBe('invalid');
    const expired = await sign({ sub: 'ada', exp: now() - 30 }, hmac, 'HS256');
    expect((await rejection(verifier.connection(expired))).reason).toBe('expired');
    const early = await sign({ sub: 'ada', nbf: now() + 300 }, hmac, 'HS256');
    expect((await rejection(verifier.connection(early))).reason).toBe('invalid');
  });

  it('refuses claims of the wrong shape (no sub, channels that are not channel names)', async () => {
    expect((await rejection(verifier.connection(await sign({ info: 1 }, hmac, 'HS256')))).message).toMatch(/sub/);
    const bad = await sign({ sub: 'ada', channels: ['no spaces'] }, hmac, 'HS256');
    expect((await rejection(verifier.connection(bad))).message).toMatch(/channels/);
  });

  it('keeps connection and subscription tokens apart', async () => {
    const sub = await sign({ sub: 'ada', channel: 'secret:plans' }, hmac, 'HS256');
    expect((await rejection(verifier.connection(sub))).message).toMatch(/subscription token/);
    expect(await verifier.subscription(sub)).toMatchObject({ user: 'ada', channel: 'secret:plans' });
    const conn = await sign({ sub: 'ada' }, hmac, 'HS256');
    expect((await rejection(verifier.subscription(conn))).message).toMatch(/channel/);
  });

  it('tolerates the configured clock leeway and no more', async () => {
    const lenient = TokenVerifier.create({ secret: SECRET, leewaySeconds: 60 })!;
    const justExpired = await sign({ sub: 'ada', exp: now() - 10 }, hmac, 'HS256');
    expect((await lenient.connection(justExpired)).user).toBe('ada');
    const longExpired = await sign({ sub: 'ada', exp: now() - 120 }, hmac, 'HS256');
    expect((await rejection(lenient.connection(longExpired))).reason).toBe('expired');
  });

  it('checks iss and aud when configured', async () => {
    const strict = TokenVerifier.create({ secret: SECRET, issuer: 'https://app.example', audience: 'hubbub' })!;
    const good = await sign({ sub: 'ada', iss: 'https://app.example', aud: 'hubbub' }, hmac, 'HS256');
    expect((await strict.connection(good)).user).toBe('ada');
    const otherIss = await sign({ sub: 'ada', iss: 'https://evil.example', aud: 'hubbub' }, hmac, 'HS256');
    expect((await rejection(strict.connection(otherIss))).reason).toBe('invalid');
    const noAud = await sign({ sub: 'ada', iss: 'https://app.example' }, hmac, 'HS256');
    expect((await rejection(strict.connection(noAud))).reason).toBe('invalid');
  });

  it('remembers a verified token only until it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const start = Date.now();
      const token = await sign({ sub: 'ada', exp: Math.floor(start / 1000) + 60 }, hmac, 'HS256');
      expect((await verifier.connection(token)).user).toBe('ada');
      expect((await verifier.connection(token)).user).toBe('ada');
      vi.setSystemTime(start + 61_000);
      expect((await rejection(verifier.connection(token))).reason).toBe('expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses two key sources at once', () => {
    expect(() => TokenVerifier.create({ secret: SECRET, jwksUrl: 'http://127.0.0.1:1/jwks' })).toThrow(/one of/);
    expect(TokenVerifier.create({})).toBeUndefined();
  });
});

describe('TokenVerifier with a PEM public key', () => {
  it.each([
    ['RS256', {}],
    ['ES256', {}],
    ['ES384', {}],
    ['EdDSA', { crv: 'Ed25519' }],
  ] as const)('accepts %s signed by the matching private key', async (alg, opts) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
    const verifier = TokenVerifier.create({ publicKey: await exportSPKI(publicKey) })!;
    expect((await verifier.connection(await sign({ sub: 'bob' }, privateKey, alg))).user).toBe('bob');
    const other = await generateKeyPair(alg, { ...opts, extractable: true });
    expect((await rejection(verifier.connection(await sign({ sub: 'bob' }, other.privateKey, alg)))).reason).toBe('invalid');
  });

  it('refuses an HMAC token keyed with the public key text (algorithm confusion)', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const verifier = TokenVerifier.create({ publicKey: pem })!;
    const forged = await sign({ sub: 'root' }, new TextEncoder().encode(pem), 'HS256');
    expect((await rejection(verifier.connection(forged))).reason).toBe('invalid');
  });

  it('refuses ES384 where the key is a P-256 key', async () => {
    const p256 = await generateKeyPair('ES256', { extractable: true });
    const p384 = await generateKeyPair('ES384', { extractable: true });
    const verifier = TokenVerifier.create({ publicKey: await exportSPKI(p256.publicKey) })!;
    expect((await rejection(verifier.connection(await sign({ sub: 'a' }, p384.privateKey, 'ES384')))).reason).toBe('invalid');
  });
});

describe('TokenVerifier with a JWKS URL', () => {
  let server: Server;
  let keys: object[] = [];
  let fetches = 0;
  let url = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function keyPair(kid: string) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    return { ...pair, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } };
  }

  it('verifies with the key named by kid, caches the set, and picks up a rotated key', async () => {
    const first = await keyPair('k1');
    keys = [first.jwk];
    fetches = 0;
    const verifier = TokenVerifier.create({ jwksUrl: url, jwksCooldownMs: 0 })!;
    const t1 = await sign({ sub: 'ada' }, first.privateKey, 'ES256', { kid: 'k1' });
    expect((await verifier.connection(t1)).user).toBe('ada');
    expect((await verifier.connection(t1)).user).toBe('ada');
    expect(fetches).toBe(1);

    // Rotation: the backend publishes k2 next to k1 and signs new tokens with it.
    const second = await keyPair('k2');
    keys = [first.jwk, second.jwk];
    const t2 = await sign({ sub: 'bob' }, second.privateKey, 'ES256', { kid: 'k2' });
    expect((await verifier.connection(t2)).user).toBe('bob');
    expect(fetches).toBe(2);
    expect((await verifier.connection(t1)).user).toBe('ada');
  });

  it('refuses a kid the set does not have, and a JWKS that cannot be reached is unavailable, not invalid', async () => {
    const known = await keyPair('k1');
    keys = [known.jwk];
    const verifier = TokenVerifier.create({ jwksUrl: url })!;
    const stranger = await keyPair('k9');
    expect((await rejection(verifier.connection(await sign({ sub: 'x' }, stranger.privateKey, 'ES256', { kid: 'k9' })))).reason).toBe(
      'invalid',
    );
    const unreachable = TokenVerifier.create({ jwksUrl: 'http://127.0.0.1:1/jwks' })!;
    const token = await sign({ sub: 'x' }, known.privateKey, 'ES256', { kid: 'k1' });
    expect((await rejection(unreachable.connection(token))).reason).toBe('unavailable');
  });

  it('made-up kids cannot make it refetch the key set more than once per cooldown', async () => {
    const known = await keyPair('k1');
    keys = [known.jwk];
    fetches = 0;
    const verifier = TokenVerifier.create({ jwksUrl: url })!;
    for (let i = 0; i < 20; i++) {
      const forged = await sign({ sub: 'x' }, known.privateKey, 'ES256', { kid: `made-up-${i}` });
      await rejection(verifier.connection(forged));
    }
    expect(fetches).toBe(1);
  });
});
