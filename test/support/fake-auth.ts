import type { ServerResponse } from 'node:http';
import { ERROR_TABLE, type ErrorCode } from '../../contract/errors.js';
import type { StreamPosition } from '../../contract/position.js';

// The token side of the fake peer: it checks tokens the way the server's rules read (expiry on its
// own clock, a revoked list, subscription tokens bound to one channel, client publish rights),
// refuses with the contract's codes and can rate-limit, so client tests see every refusal the
// server can send. Signatures are not checked: the client never verifies them either.

export type WsCommand = {
  id: number;
  type: string;
  channel: string;
  since?: StreamPosition;
  token?: string;
  data?: unknown;
  /** `connect`: where the client left its token's channels. */
  positions?: Record<string, StreamPosition>;
};
export type WsSession = { token: string | undefined; connected: boolean };

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A JWT-shaped token with these claims (`exp`/`iat` in seconds, as JWTs have them). */
export function fakeJwt(claims: { sub?: string; exp?: number; iat?: number; channel?: string; channels?: string[]; n?: number }): string {
  return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'ada', ...claims })}.c2ln`;
}

/** A token for `sub` that expires `lifetimeMs` after `now` (ms), issued at `now`. */
export function tokenFor(now: number, lifetimeMs: number, extra: { sub?: string; channel?: string; channels?: string[]; n?: number } = {}): string {
  return fakeJwt({ ...extra, iat: Math.floor(now / 1000), exp: Math.floor((now + lifetimeMs) / 1000) });
}

type Claims = { sub?: unknown; exp?: unknown; channel?: unknown; channels?: unknown };

function claimsOf(token: string): Claims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()) as Claims;
  } catch {
    return undefined;
  }
}

export class FakeAuth {
  /** The peer's clock, ms; tests with virtual time point it at the client's clock. */
  now: () => number = () => Date.now();
  /** Opaque (non-JWT) tokens accepted as they are; anything else must be a JWT. */
  readonly opaque = new Set<string>();
  /** Tokens the peer treats as expired, whatever their `exp` says (opaque ones included). */
  readonly expired = new Set<string>();
  /** Tokens refused as invalid. */
  readonly revoked = new Set<string>();
  /** Channels that need a subscription token for that channel. */
  readonly protectedChannels = new Set<string>();
  /** Channels clients may publish to (with a connection token: anonymous clients may not). */
  readonly publishable = new Set<string>();
  /** The next `times` connection attempts (and client publishes) are refused with rate_limited. */
  rateLimit = { times: 0, retryAfter: undefined as number | undefined };

  /** The user of a connection token, or the refusal: the code of the error table. */
  connection(token: string | undefined): { user: string | null; expires?: number } | { refused: ErrorCode } {
    if (token === undefined) return { user: null };
    const refused = this.#check(token);
    if (refused) return { refused };
    const claims = claimsOf(token);
    const exp = typeof claims?.exp === 'number' ? claims.exp * 1000 : undefined;
    return { user: typeof claims?.sub === 'string' ? claims.sub : token, ...(exp === undefined ? {} : { expires: exp }) };
  }

  /** The channels a connection token's `channels` claim subscribes it to (checked by connection()). */
  channelsOf(token: string | undefined): string[] {
    const channels = token === undefined ? undefined : claimsOf(token)?.channels;
    return Array.isArray(channels) ? channels.filter((c): c is string => typeof c === 'string') : [];
  }

  subscription(channel: string, token: string | undefined): ErrorCode | undefined {
    if (token === undefined) return this.protectedChannels.has(channel) ? 'forbidden' : undefined;
    const refused = this.#check(token);
    if (refused) return refused;
    const claims = claimsOf(token);
    if (claims && claims.channel !== channel) return 'token_invalid';
    return undefined;
  }

  publish(token: string | undefined, channel: string): ErrorCode | undefined {
    if (token === undefined) return 'forbidden';
    const c = this.connection(token);
    if ('refused' in c) return c.refused;
    return this.publishable.has(channel) ? undefined : 'forbidden';
  }

  /** The user id the server stamps on a publish ('' for anonymous). */
  user(token: string | undefined): string {
    const c = this.connection(token);
    return 'user' in c ? (c.user ?? '') : '';
  }

  /** `connect` and `refresh` on a WebSocket: the reply frame; undefined for any other command. */
  tokenCommand(f: WsCommand, session: WsSession, greeting: object): Record<string, unknown> | undefined {
    if (f.type === 'connect') {
      if (this.limited()) return errorFrame('rate_limited', f.id);
      const c = this.connection(f.token);
      if ('refused' in c) return errorFrame(c.refused, f.id);
      Object.assign(session, { connected: true, token: f.token });
      return { ...greeting, id: f.id, user: c.user, ...(c.expires === undefined ? {} : { expires: c.expires }) };
    }
    if (f.type !== 'refresh') return undefined;
    const c = f.channel === undefined ? this.connection(f.token) : this.subscription(f.channel, f.token);
    const refused = typeof c === 'string' ? c : c && 'refused' in c ? c.refused : undefined;
    if (refused) return errorFrame(refused, f.id);
    if (f.channel === undefined) session.token = f.token;
    return { id: f.id, type: 'refreshed' };
  }

  /** Consumes one rate-limit refusal, if any are left. */
  limited(): boolean {
    if (this.rateLimit.times <= 0) return false;
    this.rateLimit.times--;
    return true;
  }

  #check(token: string): ErrorCode | undefined {
    if (this.revoked.has(token)) return 'token_invalid';
    if (this.expired.has(token)) return 'token_expired';
    if (this.opaque.has(token)) return undefined;
    const claims = claimsOf(token);
    if (!claims) return 'token_invalid';
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= this.now()) return 'token_expired';
    return undefined;
  }
}

export function errorFrame(code: ErrorCode, id?: number): Record<string, unknown> {
  const row = ERROR_TABLE[code];
  return { type: 'error', ...(id === undefined ? {} : { id }), code, message: row.message, retryable: row.retryable };
}

/** An HTTP refusal as the server sends it: the ErrorBody before any stream, Retry-After on 429. */
export function refuse(res: ServerResponse, code: ErrorCode, retryAfter?: number): void {
  const row = ERROR_TABLE[code];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  res.writeHead(row.status, headers);
  res.end(JSON.stringify({ code, message: row.message, retryable: row.retryable }));
}

/** `Bearer <token>` → token. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer (.+)$/i.exec(header ?? '');
  return m?.[1];
}
