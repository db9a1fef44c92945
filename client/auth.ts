import { backoffDelay, type BackoffOptions } from './backoff.js';
import { HubbubError } from './errors.js';
import type { Timers } from './types.js';

// Tokens on the client side: when they expire (read from the JWT, never verified: the server does
// that), when to refresh them, and one keeper per token (the connection's, each channel's) that
// fetches, dedupes and refreshes ahead of expiry.

/** Refresh this long before expiry at most... */
const REFRESH_AHEAD_MAX = 60_000;
/** ...and at most this share of the token's lifetime before it, so short-lived tokens are not refreshed at once. */
const REFRESH_AHEAD_SHARE = 0.1;
/** Longest delay setTimeout takes; a longer one fires at once. Longer waits are done in steps. */
const MAX_TIMER = 2 ** 31 - 1;
/** A token whose exp is this close is taken as the one the server found expired (clocks differ a little). */
const EXPIRY_SKEW = 30_000;

/** The claims of a JWT, read without verifying (the server does that); undefined for anything else. */
function tokenClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === '') return undefined;
  try {
    const b64 = parts[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `exp` and `iat` of a JWT in ms; empty for anything else (opaque session ids are fine too). */
export function tokenTimes(token: string): { expires?: number; issued?: number } {
  const { exp, iat } = tokenClaims(token) ?? {};
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return {};
  return typeof iat === 'number' && Number.isFinite(iat) ? { expires: exp * 1000, issued: iat * 1000 } : { expires: exp * 1000 };
}

/**
 * The channels a connection token makes the server subscribe (its `channels` claim); undefined
 * when there is no token to read (anonymous, a cookie, an opaque token).
 */
export function tokenChannels(token: string | undefined): string[] | undefined {
  const claims = token === undefined ? undefined : tokenClaims(token);
  if (!claims) return undefined;
  return Array.isArray(claims.channels) ? claims.channels.filter((c): c is string => typeof c === 'string') : [];
}

/** When to refresh: exp − min(60 s, 10% of the lifetime), counted from iat, else from when the token was obtained. */
export function refreshTime(token: string, obtainedAt: number): number | undefined {
  const { expires, issued } = tokenTimes(token);
  if (expires === undefined) return undefined;
  const lifetime = Math.max(0, expires - (issued ?? obtainedAt));
  return expires - Math.min(REFRESH_AHEAD_MAX, REFRESH_AHEAD_SHARE * lifetime);
}

export interface KeeperEnv {
  timers: Timers;
  now: () => number;
  backoff: BackoffOptions;
  /** A new token arrived (any fetch): the connection may want to hand it to the server now. */
  onFresh(token: string): void;
  /** A refresh ahead of expiry failed; it is retried after a backoff. */
  onError(error: HubbubError): void;
}

/** One token and its source: the app's static token, its getToken, or both. */
export class TokenKeeper {
  /** The server said this token expired: fetch a new one before it is used again. */
  stale = false;
  #token: string | undefined;
  #obtainedAt: number;
  #inflight: Promise<string> | undefined;
  #timer: unknown;
  #active = false;
  #failures = 0;

  constructor(
    token: string | undefined,
    readonly getToken: (() => Promise<string>) | undefined,
    private readonly env: KeeperEnv,
  ) {
    this.#token = token;
    this.#obtainedAt = env.now();
  }

  get token(): string | undefined {
    return this.#token;
  }

  get canRefresh(): boolean {
    return this.getToken !== undefined;
  }

  get expires(): number | undefined {
    return this.#token === undefined ? undefined : tokenTimes(this.#token).expires;
  }

  /** Whether a fetch must come before the token is used: none yet, refused as expired, or past its exp. */
  needsFetch(): boolean {
    if (!this.canRefresh) return false;
    const exp = this.expires;
    return this.#token === undefined || this.stale || (exp !== undefined && exp <= this.env.now());
  }

  /** The token to use now, fetched first when needed; rejects with a retryable HubbubError when getToken fails. */
  async current(): Promise<string | undefined> {
    return this.needsFetch() ? this.fetch() : this.#token;
  }

  /**
   * Calls getToken (one call at a time, shared by every caller). `ahead`: a refresh ahead of
   * expiry, whose token is not refreshed at once again when it is already in its refresh window.
   */
  fetch(ahead = false): Promise<string> {
    if (this.#inflight) return this.#inflight;
    const get = this.getToken;
    if (!get) return Promise.reject(new HubbubError('token_expired', 'the token expired and there is no getToken to renew it', { status: 0 }));
    let called: Promise<string>;
    try {
      called = Promise.resolve(get());
    } catch (err) {
      called = Promise.reject(err);
    }
    const p = (this.#inflight = called
      .then(
        (token) => {
          this.#inflight = undefined;
          if (typeof token !== 'string' || token === '') throw new TypeError('getToken must resolve to a non-empty string');
          this.#token = token;
          this.#obtainedAt = this.env.now();
          this.stale = false;
          this.#failures = 0;
          this.env.onFresh(token);
          return token;
        },
        (err: unknown) => {
          this.#inflight = undefined;
          throw err;
        },
      )
      .catch((err: unknown) => {
        throw err instanceof HubbubError ? err : new HubbubError('unavailable', `getToken failed: ${String(err)}`, { status: 0, retryable: true, cause: err });
      }));
    return p.then((token) => (this.#schedule(!ahead), token));
  }

  /** Starts refreshing ahead of expiry (a client that connects). */
  start(): void {
    this.#active = true;
    this.#schedule(true);
  }

  stop(): void {
    this.#active = false;
    this.env.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * `first`: this token came from the app or a reconnect, not from a refresh ahead of expiry. Such a
   * token already inside its refresh window is refreshed at once; one from a refresh is not (a
   * getToken that hands out near-expired tokens would otherwise loop), and expiry handles it.
   */
  #schedule(first: boolean): void {
    this.env.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    const token = this.#token;
    if (!this.#active || !this.canRefresh || token === undefined) return;
    const at = refreshTime(token, this.#obtainedAt);
    const now = this.env.now();
    if (at === undefined || (this.expires ?? 0) <= now || (at <= now && !first)) return;
    const delay = Math.min(Math.max(0, at - now), MAX_TIMER);
    this.#timer = this.env.timers.setTimeout(() => (at > this.env.now() ? this.#schedule(first) : this.#refreshAhead()), delay);
  }

  #refreshAhead(): void {
    this.#timer = undefined;
    this.fetch(true).catch((err: HubbubError) => {
      if (!this.#active) return;
      this.env.onError(err);
      const delay = backoffDelay(this.#failures++, this.env.backoff);
      this.#timer = this.env.timers.setTimeout(() => this.#refreshAhead(), delay);
    });
  }
}

/**
 * The server refused a token as expired without saying which one (an SSE or poll request carries
 * the connection token and every subscription token). Marks the likely ones stale so they are
 * fetched again: those past (or about at) their exp, or with no exp to tell. Returns the keepers
 * that expired and cannot be refreshed (the caller stops them), or 'terminal' when the failed
 * request can only fail again.
 * `streak`: consecutive refusals without a successful connect; from the second on, clocks are
 * not trusted and every token is taken as a suspect.
 */
export function markExpired(keepers: readonly TokenKeeper[], now: number, streak: number): { dead: TokenKeeper[] } | 'terminal' {
  const held = keepers.filter((k) => k.token !== undefined);
  let suspects = held.filter((k) => k.expires === undefined || k.expires <= now + EXPIRY_SKEW);
  if (suspects.length === 0 && streak > 1) suspects = held;
  // No suspect: the failed request carried a token that has been refreshed since. Reconnect as is.
  if (suspects.length === 0) return streak > 1 ? 'terminal' : { dead: [] };
  const refreshable = suspects.filter((k) => k.canRefresh);
  // A fixed token known to be past its exp, and nothing else to try: the same request would fail again.
  const dead = suspects.filter((k) => !k.canRefresh && k.expires !== undefined);
  if (refreshable.length === 0 && dead.length === 0) return 'terminal';
  for (const k of refreshable) k.stale = true;
  return { dead };
}
