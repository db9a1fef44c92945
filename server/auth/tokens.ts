import { type KeyObject, createPublicKey, createSecretKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { type ZodType, z } from 'zod';
import { ConnectionClaims, type JsonData, SubscriptionClaims, TOKEN_MAX_LENGTH } from '../../contract/index.js';

// Verifies the JWTs a backend signs for its users, with jose. One key source is configured: a
// shared secret (HS*), a PEM public key (the algorithms of its key type) or a JWKS URL (asymmetric
// algorithms, keys picked by `kid`, cached and refetched when an unknown `kid` appears). `alg:
// none` is never accepted (jose refuses unsecured tokens in jwtVerify), nor an algorithm outside
// the configured family: a token signed with the public key as an HMAC secret fails.

export interface TokenKeyOptions {
  secret?: string | undefined;
  /** PEM text, or the path of a file holding it. */
  publicKey?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Seconds of clock skew tolerated on exp and nbf. */
  leewaySeconds?: number | undefined;
  /** How long fetched JWKS keys are trusted before a refetch, ms. */
  jwksCacheMs?: number | undefined;
  /**
   * Least time between two JWKS fetches. An unknown `kid` triggers a refetch (key rotation), so
   * without a cooldown anyone could make us hammer the key server with made-up kids.
   */
  jwksCooldownMs?: number | undefined;
}

export type TokenFailure = 'invalid' | 'expired' | 'unavailable';

/** A token that cannot be used; `reason` decides the contract code (token_invalid, token_expired, unavailable). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly reason: TokenFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ConnectionIdentity {
  /** null: anonymous (no token, or `sub: ""`). */
  user: string | null;
  info: JsonData | undefined;
  /** Channels the backend subscribes this connection to. */
  channels: string[];
  /** ms since the Unix epoch; undefined when the token never expires (or there is none). */
  expiresAt: number | undefined;
  /** The token's `iat`, ms; user disconnects revoke tokens issued before them. */
  issuedAt?: number | undefined;
  /** An admin tail token (admin-tail.ts): watches its one channel, nothing else, unseen in presence. */
  adminTail?: true;
}

export interface SubscriptionGrant {
  user: string;
  channel: string;
  info: JsonData | undefined;
  expiresAt: number | undefined;
}

export const ANONYMOUS: ConnectionIdentity = Object.freeze({ user: null, info: undefined, channels: [], expiresAt: undefined });

const HMAC = ['HS256', 'HS384', 'HS512'];
const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 10 * 60_000;
const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_BY_CURVE: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const ASYMMETRIC = [...RSA, 'ES256', 'ES384', 'ES512', 'EdDSA'];

function readPem(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  if (!existsSync(value)) throw new Error(`token public key: no PEM text and no file at ${value}`);
  return readFileSync(value, 'utf8');
}

function algorithmsOf(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return RSA;
    case 'ec': {
      const alg = EC_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!alg) throw new Error(`token public key: unsupported curve ${key.asymmetricKeyDetails?.namedCurve}`);
      return [alg];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(`token public key: unsupported key type ${key.asymmetricKeyType}`);
  }
}

export class TokenVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];
  /**
   * Connection tokens already verified → their identity, until they expire (or 10 minutes, so a key
   * removed from a JWKS stops working soon). A long-poll client presents the same token with every
   * request: without this, each poll would redo the signature check. Bounded; only successes are kept.
   */
  private readonly verified = new Map<string, { identity: ConnectionIdentity; until: number }>();

  private constructor(
    key: KeyObject | JWTVerifyGetKey,
    algorithms: string[],
    private readonly options: TokenKeyOptions,
  ) {
    this.key = key;
    this.algorithms = algorithms;
  }

  /** The clock skew tolerated on exp: a token stays valid this long past it (connections too). */
  get leewayMs(): number {
    return (this.options.leewaySeconds ?? 0) * 1000;
  }

  /** undefined when no key source is configured (every connection is anonymous). */
  static create(options: TokenKeyOptions): TokenVerifier | undefined {
    const sources = [options.secret, options.publicKey, options.jwksUrl].filter((s) => s !== undefined);
    if (sources.length > 1) throw new Error('configure one of token secret, token public key and token JWKS URL, not several');
    if (options.secret !== undefined) {
      return new TokenVerifier(createSecretKey(Buffer.from(options.secret, 'utf8')), HMAC, options);
    }
    if (options.publicKey !== undefined) {
      const key = createPublicKey(readPem(options.publicKey));
      return new TokenVerifier(key, algorithmsOf(key), options);
    }
    if (options.jwksUrl !== undefined) {
      const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
        cacheMaxAge: options.jwksCacheMs ?? 10 * 60_000,
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        timeoutDuration: 5_000,
      });
      return new TokenVerifier(jwks, ASYMMETRIC, options);
    }
    return undefined;
  }

  async connection(token: string): Promise<ConnectionIdentity> {
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit && now < hit.until) return hit.identity;
    if (hit) this.verified.delete(token);
    const identity = await this.verifyConnection(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    const until = Math.min(now + VERIFIED_CACHE_MS, identity.expiresAt === undefined ? Number.POSITIVE_INFINITY : identity.expiresAt + this.leewayMs);
    this.verified.set(token, { identity, until });
    return identity;
  }

  private async verifyConnection(token: string): Promise<ConnectionIdentity> {
    const claims = await this.verify(token, ConnectionClaims);
    if ('channel' in claims) throw new TokenError('invalid', 'a subscription token cannot open a connection');
    return {
      user: claims.sub === '' ? null : claims.sub,
      info: claims.info,
      // A channel listed twice is one subscription: a cursor has one entry per channel.
      channels: [...new Set(claims.channels)],
      expiresAt: expiryMs(claims.exp),
      issuedAt: typeof claims['iat'] === 'number' ? claims['iat'] * 1000 : undefined,
    };
  }

  async subscription(token: string): Promise<SubscriptionGrant> {
    const claims = await this.verify(token, SubscriptionClaims);
    return {
      user: claims.sub,
      channel: claims.channel,
      info: claims.info,
      expiresAt: expiryMs(claims.exp),
    };
  }

  private async verify<T extends ZodType>(token: string, schema: T): Promise<z.output<T>> {
    // Every door (header, cookie, query, frame) ends here: the contract's limit holds for all, and
    // an oversized token costs no parsing or HMAC.
    if (token.length > TOKEN_MAX_LENGTH) throw new TokenError('invalid', `the token is longer than ${TOKEN_MAX_LENGTH} characters`);
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, this.key as KeyObject, {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.leewaySeconds ?? 0,
      });
      payload = result.payload;
    } catch (err) {
      throw classify(err);
    }
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'claims'}: ${i.message}`).join('; ');
      throw new TokenError('invalid', `token claims: ${why}`);
    }
    return parsed.data;
  }
}

/** Past the last instant a Date can hold (year 275760), an exp (even 1e400, read as Infinity) means never. */
const LAST_DATE_MS = 8.64e15;

/**
 * `exp` in ms, as the instant jose starts refusing the token: exp may be fractional (an RFC 7519
 * NumericDate; `time.time() + 3600` in Python), jose compares it with whole seconds, and `expires`
 * in connected frames is an integer.
 */
function expiryMs(exp: number | undefined): number | undefined {
  if (exp === undefined) return undefined;
  const ms = Math.ceil(exp) * 1000;
  return ms > LAST_DATE_MS ? undefined : ms;
}

function classify(err: unknown): TokenError {
  if (err instanceof joseErrors.JWTExpired) return new TokenError('expired', 'the token has expired', { cause: err });
  // The key set could not be fetched: the token may be fine, the client should retry later.
  if (err instanceof joseErrors.JWKSTimeout || (err instanceof TypeError && /fetch/i.test(err.message))) {
    return new TokenError('unavailable', 'the token keys (JWKS) cannot be fetched', { cause: err });
  }
  if (err instanceof joseErrors.JOSEError) return new TokenError('invalid', `token rejected: ${err.code}`, { cause: err });
  return new TokenError('invalid', 'token rejected', { cause: err });
}
