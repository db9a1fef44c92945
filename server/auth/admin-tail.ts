import { type KeyObject, createSecretKey, hkdfSync } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { isChannelName } from '../../contract/index.js';
import { type ConnectionIdentity, TokenError } from './tokens.js';

// Admin tail tokens (docs/admin.md): the dashboard's live tail subscribes with one, minted by
// POST /admin/api/tail-token for a signed-in admin. Short-lived connection JWTs, HS256 with a key
// derived (HKDF, its own label) from the admin session key, which every node derives alike from
// the admin password and admin keys: a token minted on one node works on every other, no sticky
// sessions. It grants watching exactly one channel, nothing else (policy.ts): no other channel,
// no publish, no presence entry, no API call. It is told apart from the app's tokens by its
// `kid`, and verified only here, so an app token can never carry the admin mark.

/** The `kid` header that routes a token here; reserved: an app's own keys must not use it. */
export const TAIL_KID = 'hubbub-admin-tail';
export const TAIL_AUDIENCE = 'hubbub-admin-tail';
const TAIL_ISSUER = 'hubbub-admin';
/** Lifetime of a tail token: the client's getToken fetches a new one ahead of expiry. */
export const TAIL_TOKEN_SECONDS = 60;
/** Clock skew tolerated between the node that minted a token and the one that checks it. */
const SKEW_SECONDS = 10;

export class AdminTailTokens {
  private readonly key: KeyObject;

  /** `adminKey`: the admin session's signing key (server/admin/auth.ts). */
  constructor(adminKey: Buffer) {
    this.key = createSecretKey(Buffer.from(hkdfSync('sha256', adminKey, 'hubbub', 'hubbub admin tail token v1', 32)));
  }

  /** Whether `token` claims to be a tail token (its header only; the signature is checked by connection()). */
  static claims(token: string): boolean {
    try {
      return decodeProtectedHeader(token).kid === TAIL_KID;
    } catch {
      return false;
    }
  }

  async mint(who: string, channel: string): Promise<{ token: string; expires: number }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + TAIL_TOKEN_SECONDS;
    const token = await new SignJWT({ channels: [channel] })
      .setProtectedHeader({ alg: 'HS256', kid: TAIL_KID, typ: 'JWT' })
      .setSubject(`admin:${who}`)
      .setAudience(TAIL_AUDIENCE)
      .setIssuer(TAIL_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expires: exp * 1000 };
  }

  /** The identity of a tail token (named like TokenVerifier's, so the session layer uses either alike). */
  async connection(token: string): Promise<ConnectionIdentity> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: TAIL_AUDIENCE,
        issuer: TAIL_ISSUER,
        requiredClaims: ['sub', 'exp', 'iat'],
        // A token signed with a far exp (a leaked key aside, none are) is still refused.
        maxTokenAge: TAIL_TOKEN_SECONDS + SKEW_SECONDS,
        clockTolerance: SKEW_SECONDS,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenError('expired', 'the admin tail token has expired', { cause: err });
      throw new TokenError('invalid', `admin tail token rejected: ${err instanceof joseErrors.JOSEError ? err.code : 'bad token'}`, { cause: err });
    }
    const { sub, channels, exp, iat } = payload;
    const channel = Array.isArray(channels) && channels.length === 1 ? channels[0] : undefined;
    if (typeof sub !== 'string' || !sub.startsWith('admin:') || typeof channel !== 'string' || !isChannelName(channel)) {
      throw new TokenError('invalid', 'admin tail token claims: one channel and an admin subject are required');
    }
    return { user: sub, info: undefined, channels: [channel], expiresAt: exp! * 1000, issuedAt: iat! * 1000, adminTail: true };
  }
}
