// Connection tokens for the token fuzz suite, and what each deserves. A token is generated as a
// recipe (printable, shrinkable): any string, or a JWT built from header and claims texts, signed
// with the server's secret or not. Claims are JSON text with placeholders (`NOW+3600`) filled in
// when the token is built, so they can carry what JSON.stringify never writes (1e400, duplicated
// keys, `__proto__`). The verdict follows RFC 7519 as jose applies it, then the contract's
// ConnectionClaims: never the server's verifier.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { ConnectionClaims, channelUsers } from '../../contract/index.js';
import { channelLike, longString, oddString, validChannel } from './arbitraries.js';

export type TokenRecipe =
  | { kind: 'text'; text: string }
  | { kind: 'jwt'; header: string; claims: string; signature: 'hmac' | 'junk' | 'empty'; extraSegments: string[] };

export type TokenVerdict =
  | { kind: 'refused'; codes: Set<'token_invalid' | 'token_expired'> }
  | { kind: 'ok'; user: string | null; channels: string[]; exp: number | undefined };

const HMAC_ALGS: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const fill = (text: string, nowS: number) => text.replace(/NOW([+-]\d+(?:\.\d+)?)/g, (_, d: string) => String(nowS + Number(d)));

function headerOf(text: string): Record<string, unknown> | undefined {
  try {
    const h: unknown = JSON.parse(text);
    return typeof h === 'object' && h !== null && !Array.isArray(h) ? (h as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The token text; HMAC-signed with the header's HS* algorithm (HS256 for any other header). */
export function buildToken(recipe: TokenRecipe, secret: string, nowS: number): string {
  if (recipe.kind === 'text') return recipe.text;
  const input = `${b64(recipe.header)}.${b64(fill(recipe.claims, nowS))}`;
  const alg = HMAC_ALGS[String(headerOf(recipe.header)?.['alg'])] ?? 'sha256';
  const signature = { hmac: () => createHmac(alg, secret).update(input).digest('base64url'), junk: () => 'c2lnbmF0dXJl', empty: () => '' }[recipe.signature]();
  return [input, signature, ...recipe.extraSegments].join('.');
}

const invalid = (): TokenVerdict => ({ kind: 'refused', codes: new Set(['token_invalid']) });

/** What the token deserves from a server with `leewayS` of clock leeway, before any door-specific rule. */
export function verdictOf(recipe: TokenRecipe, nowS: number, leewayS: number): TokenVerdict {
  if (recipe.kind === 'text' || recipe.signature !== 'hmac' || recipe.extraSegments.length > 0) return invalid();
  const header = headerOf(recipe.header);
  if (!header || !(String(header['alg']) in HMAC_ALGS) || 'crit' in header || 'b64' in header) return invalid();
  let claims: unknown;
  try {
    claims = JSON.parse(fill(recipe.claims, nowS));
  } catch {
    return invalid();
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return invalid();
  const c = claims as Record<string, unknown>;
  // The registered time claims, in the order jose checks them.
  for (const claim of ['iat', 'nbf', 'exp']) if (c[claim] !== undefined && typeof c[claim] !== 'number') return invalid();
  if (typeof c['nbf'] === 'number' && c['nbf'] > nowS + leewayS) return invalid();
  if (typeof c['exp'] === 'number' && c['exp'] <= nowS - leewayS) return { kind: 'refused', codes: new Set(['token_expired']) };
  const parsed = ConnectionClaims.safeParse(claims);
  // A subscription token (it names one channel) does not open a connection.
  if (!parsed.success || Object.hasOwn(c, 'channel')) return invalid();
  return { kind: 'ok', user: parsed.data.sub === '' ? null : parsed.data.sub, channels: parsed.data.channels ?? [], exp: parsed.data.exp };
}

/** A channels claim may not list another user's channel (user channels belong to their users). */
export function trespasses(user: string | null, channels: readonly string[]): boolean {
  return channels.some((ch) => {
    const users = channelUsers(ch);
    return users !== undefined && (user === null || !users.includes(user));
  });
}

/**
 * `expires` (ms, an integer) of a connection opened with a token of this exp: within the second
 * after exp (jose compares whole seconds), and none when exp is absent or beyond any Date.
 */
export function expiresFits(expires: number | undefined, exp: number | undefined): boolean {
  if (exp === undefined || !(exp * 1000 <= 8.64e15)) return expires === undefined;
  return expires !== undefined && Number.isInteger(expires) && expires >= exp * 1000 && expires < exp * 1000 + 1000;
}

/* ---------- generators ---------- */

const json = (v: unknown) => JSON.stringify(v);
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

const headerText = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('HS256', 'HS384', 'HS512').map((alg) => json({ alg, typ: 'JWT' })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      json({ alg: 'none', typ: 'JWT' }), json({ alg: 'RS256' }), json({ alg: 'hs256' }), json({ typ: 'JWT' }), json({ alg: 'HS256', crit: ['exp'] }),
      json({ alg: 'HS256', b64: false, crit: ['b64'] }), json({ alg: 'HS256', kid: '../../etc/passwd' }), '[]', 'null', '{"alg":"HS256"', 'not json', '',
    ),
  },
  { weight: 1, arbitrary: oddString(16) },
);

const someChannels = fc.array(fc.oneof({ weight: 6, arbitrary: validChannel }, { weight: 2, arbitrary: fc.constantFrom('notifications:#ada', 'dm:#ada~bob', 'notifications:#bob', '#eve') }, { weight: 1, arbitrary: channelLike }), { maxLength: 4 });

/** Claims and how often each is present (of 10); `__proto__` and `channel` are there to be refused or ignored. */
const CLAIMS: Array<[string, fc.Arbitrary<string>, number]> = [
  [
    'sub',
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('ada', 'bob', '').map(json) },
      { weight: 2, arbitrary: fc.oneof(oddString(10).map((s) => json(s.replace(/[\ud800-\udfff]/g, '?'))), longString(250, 260).map(json)) },
      { weight: 1, arbitrary: fc.constantFrom('7', 'null', '["ada"]', '{}', 'true') },
    ),
    9,
  ],
  [
    'exp',
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('NOW+3600', 'NOW+86400') },
      { weight: 3, arbitrary: fc.constantFrom('NOW-3600', '0', '-5', '1') },
      { weight: 3, arbitrary: fc.constantFrom('NOW+3600.123456', 'NOW+3600.5', '1e20', '1e300', '1e400', '-1e400', '"NOW+3600"', 'null', 'true', '[1]') },
    ),
    8,
  ],
  ['nbf', fc.constantFrom('NOW-60', 'NOW+3600', '"NOW-60"', '1e400'), 1],
  ['iat', fc.constantFrom('NOW-10', 'NOW+3600', '"yesterday"', 'NOW-10.25'), 3],
  [
    'channels',
    fc.oneof(
      { weight: 6, arbitrary: someChannels.map(json) },
      { weight: 1, arbitrary: fc.integer({ min: 125, max: 132 }).map((n) => json(Array.from({ length: n }, (_, i) => `c${i}`))) },
      { weight: 1, arbitrary: fc.constantFrom('"pub"', 'null', '{}', '[1]', '[]') },
    ),
    3,
  ],
  [
    'info',
    fc.oneof(
      { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json) },
      { weight: 2, arbitrary: fc.constantFrom(nested(63), nested(64), nested(65), nested(800), '{"n":1e400}', '[1e400]', '{"__proto__":{"x":1}}') },
      { weight: 1, arbitrary: fc.integer({ min: 5000, max: 10000 }).map((n) => json('i'.repeat(n))) },
    ),
    3,
  ],
  ['channel', fc.constantFrom('"pub"', '"secret:x"'), 1],
  ['__proto__', fc.constantFrom('{"channel":"pub"}', '{"sub":"mallory"}', 'null'), 1],
  ['aud', fc.constantFrom('"hubbub"', '["a","b"]', '7'), 1],
];

/** Claims as JSON text: mostly a sub and an exp, each other claim now and then, sometimes not an object. */
const claimsText = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(
        ...CLAIMS.map(([key, arb, present]) =>
          fc.oneof({ weight: present, arbitrary: arb.map((v): string | undefined => `${json(key)}:${v}`) }, { weight: 10 - present, arbitrary: fc.constant(undefined) }),
        ),
      )
      .map((entries) => `{${entries.filter((e) => e !== undefined).join(',')}}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('[]', 'null', '"ada"', '7', '{"sub":"ada",}', '{"sub":"ada","sub":7}', '{"sub":"ada"', '') },
  { weight: 1, arbitrary: oddString(20) },
);

const jwtRecipe: fc.Arbitrary<TokenRecipe> = fc.record({
  kind: fc.constant('jwt' as const),
  header: headerText,
  claims: claimsText,
  signature: fc.constantFrom<Array<'hmac' | 'junk' | 'empty'>>('hmac', 'hmac', 'hmac', 'hmac', 'junk', 'empty'),
  extraSegments: fc.oneof({ weight: 12, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('', 'x', 'eyJ9'), { minLength: 1, maxLength: 3 }) }),
});

/** Near-JWTs and plain junk: segment counts, bad base64, unicode, very long. */
const textRecipe: fc.Arbitrary<TokenRecipe> = fc
  .oneof(
    { weight: 3, arbitrary: fc.array(fc.oneof(fc.constantFrom('', 'eyJhbGciOiJIUzI1NiJ9', 'e30', '!!!', 'a=b', '%%', '+/+/'), oddString(8)), { maxLength: 6 }).map((parts) => parts.join('.')) },
    { weight: 2, arbitrary: oddString(40) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: longString(7000, 12_000) },
  )
  .map((text) => ({ kind: 'text' as const, text }));

export const tokenRecipe: fc.Arbitrary<TokenRecipe> = fc.oneof({ weight: 4, arbitrary: jwtRecipe }, { weight: 1, arbitrary: textRecipe });
