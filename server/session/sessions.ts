// The session registry: opens every realtime request and upgrade (origin, per-address limits,
// token), indexes live sessions by user for the user commands, and holds the rules a reload swaps.

import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, type ConnectionIdentity } from '../auth/tokens.js';
import { HubbubError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { connectionFields, endFields } from './connection-events.js';
import { findToken } from './credentials.js';
import type { Policy } from './policy.js';
import { ConcurrencyCounter, KeyedBuckets } from './rate.js';
import { AddressVerifier, rateLimited } from './address-verifier.js';
import { REVOKED, Revocations } from './revocation.js';
import { Session, type SessionDeps, type SessionVerifier } from './session.js';
import type { Limits, OpenOptions, SessionRules, SessionsOptions } from './sessions-options.js';

export type { Limits, OpenOptions, SessionRules, SessionsOptions } from './sessions-options.js';
export type { ConnectionEnd, ConnectionEvents } from './connection-events.js';
export { REVOKED } from './revocation.js';

const UNCOUNTED: Pick<Metrics, 'authFailed' | 'rateLimited'> = { authFailed: () => undefined, rateLimited: () => undefined };

const RATES = ['connectionRate', 'commandRate', 'publishRate', 'authFailureRate'] as const;

/**
 * The front of the session layer: every realtime request and upgrade is opened here, once, before
 * any stream starts — origin, per-address limits, then the connection token — and every live
 * session is indexed by user for the server API's user commands.
 */
export class Sessions {
  private readonly concurrent: ConcurrencyCounter;
  private readonly opening: KeyedBuckets;
  private readonly failures: KeyedBuckets;
  private readonly publishes: KeyedBuckets;
  private readonly byUser = new Map<string, Set<Session>>();
  private readonly revocations: Revocations;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  /** Shared by every session (a poll opens one per request). */
  private readonly sessionDeps: SessionDeps;
  /** Replaced whole by reload(): a request reads it once and keeps that one for its checks. */
  private current: SessionsOptions;
  private readonly verifierInForce = () => this.current.verifier;
  private readonly tailInForce = () => this.current.admin.tail;
  private readonly metrics: Pick<Metrics, 'authFailed' | 'rateLimited'>;

  constructor(options: SessionsOptions) {
    this.now = options.now ?? Date.now;
    this.revocations = new Revocations(this.now);
    // The limits' Rate objects are shared by every bucket, so setLimits() can change them in place.
    const limits: Limits = { ...options.limits };
    for (const k of RATES) limits[k] = { ...limits[k] };
    this.current = { ...options, limits };
    this.metrics = options.metrics ?? UNCOUNTED;
    this.concurrent = new ConcurrencyCounter(limits.connectionsPerIp);
    this.opening = new KeyedBuckets(limits.connectionRate, 100_000, this.now);
    this.failures = new KeyedBuckets(limits.authFailureRate, 100_000, this.now);
    this.publishes = new KeyedBuckets(limits.publishRate, 100_000, this.now);
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
    const self = this;
    this.sessionDeps = {
      verifierFor: (ip) => this.verifierFor(ip),
      // Getters: live sessions read the rules in force, so their next subscribe or publish follows a reload.
      get leewayMs() {
        return self.current.verifier?.leewayMs ?? 0;
      },
      get policy() {
        return self.current.policy;
      },
      commandRate: limits.commandRate,
      takePublish: (user) => {
        const wait = this.publishes.take(user);
        if (wait > 0) this.metrics.rateLimited('publishes');
        return wait;
      },
      isRevoked: (id) => this.isRevoked(id),
      now: this.now,
      onIdentity: (s, previous) => {
        this.index(s, previous);
        // A WebSocket may name its user in its first frame, after it opened: it connects as that user then.
        if (previous === null && s.openedAt > 0 && !s.closed) options.events?.connected(s);
      },
      onOpen: (s) => {
        options.logger?.info('connection opened', connectionFields(s));
        if (s.user !== null) options.events?.connected(s);
      },
      onClose: (s, peer) => {
        if (s.longLived) this.concurrent.release(s.ip);
        this.unindex(s, s.user);
        if (s.openedAt === 0) return;
        const end = endFields(s, peer);
        const durationMs = this.now() - s.openedAt;
        options.logger?.info('connection closed', { ...connectionFields(s), durationMs, ...end });
        // Its user never changes once known (a refresh must name the same one), so this pairs with the connect.
        if (s.user !== null) options.events?.disconnected(s, end, durationMs);
      },
    };
  }

  /** The options in force: read once per request, since reload() may replace them while it waits. */
  get options(): Readonly<SessionsOptions> {
    return this.current;
  }

  get policy(): Policy {
    return this.current.policy;
  }

  /**
   * Swaps in new rules as one reference: a request or command already past its check keeps the
   * rules it was checked with, every later one gets the new ones. Live connections stay open and
   * keep what they were granted; their token expiry timers keep the old leeway.
   */
  reload(rules: SessionRules): void {
    this.current = { ...this.current, ...rules };
  }

  /** New rates and ceilings for the buckets in place: their state (tokens left, open connections) carries over. */
  setLimits(next: Limits): void {
    const limits = this.current.limits;
    for (const k of RATES) Object.assign(limits[k], next[k]);
    limits.connectionsPerIp = next.connectionsPerIp;
    this.concurrent.max = next.connectionsPerIp;
  }

  /** Refuses with the contract error, or returns the session (to be close()d when the request or connection ends). */
  async open(req: IncomingMessage, how: OpenOptions): Promise<Session> {
    const o = this.current;
    if (o.origins.check(req) === false) {
      throw new HubbubError('forbidden', `origin ${req.headers.origin} is not allowed (see allowedOrigins)`);
    }
    const ip = o.proxies.clientAddress(req);
    const wait = this.opening.take(ip);
    if (wait > 0) throw this.limited('connection_rate', rateLimited('too many new connections from your address', wait));
    const found = findToken(req, how.queryToken, o.cookieName);
    const identity = found ? await this.verify(o, found.token, ip) : ANONYMOUS;
    if (how.longLived && !this.concurrent.acquire(ip)) {
      this.metrics.rateLimited('connections_per_ip');
      throw rateLimited(`at most ${this.concurrent.max} connections per address`, 1000);
    }
    const session = new Session(o.newClientId(), how.transport, ip, identity, this.sessionDeps, how.longLived, how.connection);
    this.index(session, null);
    return session;
  }

  /** Counts a failed API key from `ip`; throws rate_limited once the address has failed too often. */
  apiKeyFailed(req: IncomingMessage): void {
    this.metrics.authFailed('api_key');
    const ip = this.current.proxies.clientAddress(req);
    const wait = this.failures.take(ip);
    if (wait > 0) throw this.limited('auth_failures', rateLimited('too many failed credentials from your address', wait));
  }

  /** Refuses any credentials from an address that failed too often, before checking them. */
  assertMayTry(req: IncomingMessage): void {
    const wait = this.failures.waitFor(this.current.proxies.clientAddress(req));
    if (wait > 0) throw this.limited('auth_failures', rateLimited('too many failed credentials from your address', wait));
  }

  /** Counts a rate-limit refusal; returns it to be thrown. */
  private limited(limit: Parameters<Metrics['rateLimited']>[0], err: HubbubError): HubbubError {
    this.metrics.rateLimited(limit);
    return err;
  }

  /**
   * Tokens of `user` issued before now, and the tokens its live connections hold, are refused on
   * this node for the next 24 hours. Call it before disconnecting them.
   */
  revoke(user: string): void {
    this.revocations.revoke(user, this.byUser.get(user) ?? []);
  }

  isRevoked(identity: ConnectionIdentity): boolean {
    return this.revocations.isRevoked(identity);
  }

  /** Live sessions of a user on this node. */
  ofUser(user: string): Session[] {
    return [...(this.byUser.get(user) ?? [])];
  }

  /** Registries that must shrink back when connections leave (rate buckets are bounded by maxKeys and swept instead). */
  get counts(): { users: number; addresses: number } {
    return { users: this.byUser.size, addresses: this.concurrent.size };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private async verify(o: SessionsOptions, token: string, ip: string): Promise<ConnectionIdentity> {
    const verifier = (o.verifier || o.admin.tail) && new AddressVerifier(() => o.verifier, this.failures, this.revocations.tokenDigests, ip, this.metrics, () => o.admin.tail);
    if (!verifier) throw new HubbubError('token_invalid', 'this server has no token key configured');
    let identity: ConnectionIdentity;
    try {
      identity = await verifier.connection(token);
    } catch (err) {
      // Asked only of a token that failed (a key is no signed token): a valid one, on every poll, costs no key digest.
      if (o.apiKeys.isKey(token)) throw new HubbubError('token_invalid', 'an API key is not a connection token: sign a token for the user');
      throw err;
    }
    if (this.isRevoked(identity)) throw REVOKED();
    return identity;
  }

  /** The verifier of one address (address-verifier.ts); undefined without a token key. */
  private verifierFor(ip: string): SessionVerifier | undefined {
    // A session keeps this one for its life, so it reads the verifier in force at each use (a reload may rotate the key).
    const o = this.current;
    return (o.verifier || o.admin.tail) && new AddressVerifier(this.verifierInForce, this.failures, this.revocations.tokenDigests, ip, this.metrics, this.tailInForce);
  }

  private index(s: Session, previous: string | null): void {
    if (previous !== null) this.unindex(s, previous);
    if (s.user === null) return;
    let set = this.byUser.get(s.user);
    if (!set) this.byUser.set(s.user, (set = new Set()));
    set.add(s);
  }

  private unindex(s: Session, user: string | null): void {
    if (user === null) return;
    const set = this.byUser.get(user);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.byUser.delete(user);
  }

  private sweep(): void {
    this.revocations.sweep();
    this.opening.sweep();
    this.failures.sweep();
    this.publishes.sweep();
  }
}
