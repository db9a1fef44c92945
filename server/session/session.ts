import type { DisconnectName, JsonData } from '../../contract/index.js';
import { type ConnectionIdentity, type SubscriptionGrant, TokenError, type TokenVerifier } from '../auth/tokens.js';
import { HubbubError } from '../errors.js';
import type { Policy } from './policy.js';
import { type Rate, TokenBucket } from './rate.js';

// One client connection (a WebSocket, an SSE stream) or one request (a long-poll, a client
// publish) as the core sees it: who it is, what it may do, what it has cost. Transports ask it
// before they subscribe or publish and never decide on their own; every refusal leaves here as a
// contract error, so the three transports refuse alike.

/** What a transport lets the session do to its connection (user commands, token expiry). */
export interface ConnectionHandle {
  disconnect(reason: 'token_expired' | 'disconnected_by_server' | 'rate_limited' | 'forbidden'): void;
  /** Server-side subscribe (user commands, token channels); resolves false when the transport cannot. */
  subscribe(channel: string): Promise<boolean>;
  unsubscribe(channel: string): boolean;
}

/** Verifies the tokens of connect/refresh frames and subscription tokens. */
export type SessionVerifier = Pick<TokenVerifier, 'connection' | 'subscription' | 'leewayMs'>;

/** What every session of a node shares: one object for all of them, so opening one allocates no closures. */
export interface SessionDeps {
  /** The verifier of one client address (failures count against it); undefined without a token key. */
  verifierFor(ip: string): SessionVerifier | undefined;
  /** The token key's leeway (0 without one). */
  leewayMs: number;
  policy: Policy;
  commandRate: Rate;
  /** Per-user publish buckets, shared by every session of the user on this node. */
  takePublish(user: string): number;
  isRevoked(identity: ConnectionIdentity): boolean;
  now(): number;
  /** Called when the session's user is known or changes (user registry). */
  onIdentity(session: Session, previous: string | null): void;
  /** A connection (not a request) started: attach() of a session opened as a connection. */
  onOpen(session: Session): void;
  onClose(session: Session, peer: PeerClose | undefined): void;
}

/** The close code and reason the client sent (a WebSocket close frame), for the connection's close line. */
export interface PeerClose {
  code: number;
  reason: string;
}

/** A token failure as the contract error the client sees. */
export function tokenFailure(err: unknown): HubbubError {
  if (!(err instanceof TokenError)) return err instanceof HubbubError ? err : new HubbubError('internal', undefined, undefined, { cause: err });
  if (err.reason === 'expired') return new HubbubError('token_expired', undefined, undefined, { cause: err });
  if (err.reason === 'unavailable') return new HubbubError('unavailable', err.message, undefined, { cause: err });
  return new HubbubError('token_invalid', err.message, undefined, { cause: err });
}

export class Session {
  private handle: ConnectionHandle | undefined;
  private commands: TokenBucket | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Subscription-token info per channel, for presence. */
  private channelInfo: Map<string, JsonData | undefined> | undefined;
  /** When each channel's subscription token expires (ms); the connection must refresh it or reconnect. */
  private grantExpiry: Map<string, number> | undefined;
  private guarded: SessionVerifier | undefined;
  closed = false;
  /** When the connection started (ms; 0: not a connection, or not started): its close line gives the duration. */
  openedAt = 0;
  /** Why the server ended the connection, when it did (the close line's code and reason). */
  endedBy: DisconnectName | undefined;

  constructor(
    readonly client: string,
    readonly transport: string,
    readonly ip: string,
    private id: ConnectionIdentity,
    private readonly deps: SessionDeps,
    /** Holds a connection open (counts against connectionsPerIp until close()). */
    readonly longLived: boolean,
    /** A connection (WebSocket, SSE stream) whose open and close are logged; a long-poll is a request. */
    readonly isConnection = false,
  ) {}

  /** Built on first use: most requests (a poll with no subscription token) never verify a token. */
  private get verifier(): SessionVerifier | undefined {
    return (this.guarded ??= this.deps.verifierFor(this.ip));
  }

  get identity(): ConnectionIdentity {
    return this.id;
  }

  get user(): string | null {
    return this.id.user;
  }

  /** An admin's live tail: not listed in presence, no join/leave events (the hub reads it). */
  get hidden(): boolean {
    return this.id.adminTail === true;
  }

  /** The info shown in a channel's presence: the subscription token's, else the connection token's. */
  info(channel: string): JsonData | undefined {
    return this.channelInfo?.has(channel) ? this.channelInfo.get(channel) : this.id.info;
  }

  /** A long-lived connection registers how the session may act on it; starts the expiry timer. */
  attach(handle: ConnectionHandle): void {
    this.handle = handle;
    this.scheduleExpiry();
    if (this.isConnection && this.openedAt === 0) {
      this.openedAt = this.deps.now();
      this.deps.onOpen(this);
    }
  }

  /** The transport is ending the connection for `reason`: the first reason given is the one logged. */
  disconnecting(reason: DisconnectName): void {
    this.endedBy ??= reason;
  }

  /** Throws the contract error when the connection may not subscribe to `channel`. */
  async authorizeSubscribe(channel: string, subscriptionToken?: string): Promise<void> {
    if (subscriptionToken === undefined) return this.assertMaySubscribe(channel);
    const verifier = this.verifier;
    if (!verifier) throw new HubbubError('token_invalid', 'this server has no token key configured');
    const grant = await verifier.subscription(subscriptionToken).catch((err: unknown) => {
      throw tokenFailure(err);
    });
    const decision = this.deps.policy.canSubscribe(this.id, channel, grant);
    if (!decision.ok) throw new HubbubError('forbidden', decision.reason);
    this.adoptGrant(channel, grant);
  }

  /** authorizeSubscribe() without a subscription token, decided at once from what the session holds. */
  assertMaySubscribe(channel: string): void {
    const decision = this.deps.policy.canSubscribe(this.id, channel);
    if (!decision.ok) throw new HubbubError('forbidden', decision.reason);
  }

  /** `refresh` with a channel: a new subscription token for a channel the connection holds. */
  async refreshGrant(channel: string, token: string): Promise<void> {
    await this.authorizeSubscribe(channel, token);
  }

  /** The connection left `channel`: its subscription token no longer matters. */
  forget(channel: string): void {
    this.channelInfo?.delete(channel);
    if (this.grantExpiry?.delete(channel)) this.scheduleExpiry();
  }

  /** When the connection must refresh a token: the earliest of its connection and subscription tokens. */
  get expiresAt(): number | undefined {
    let at = this.id.expiresAt;
    if (this.grantExpiry) for (const t of this.grantExpiry.values()) if (at === undefined || t < at) at = t;
    return at;
  }

  private adoptGrant(channel: string, grant: SubscriptionGrant): void {
    // Made on the first subscription token: a session without one (most polls) never needs them.
    (this.channelInfo ??= new Map()).set(channel, grant.info ?? this.id.info);
    if (grant.expiresAt === undefined) this.grantExpiry?.delete(channel);
    else (this.grantExpiry ??= new Map()).set(channel, grant.expiresAt);
    this.scheduleExpiry();
  }

  /** Throws when the connection may not publish to `channel` now (permission, then the user's rate). */
  authorizePublish(channel: string, subscribed: boolean): void {
    const decision = this.deps.policy.canPublish(this.id, channel, subscribed);
    if (!decision.ok) throw new HubbubError('forbidden', decision.reason);
    const wait = this.deps.takePublish(this.id.user!);
    if (wait > 0) throw new HubbubError('rate_limited', `client publishes are limited per user: retry in ${wait} ms`, undefined, { retryAfterMs: wait });
  }

  /** One WebSocket command; false when over the connection's command rate. */
  takeCommand(): boolean {
    this.commands ??= new TokenBucket(this.deps.commandRate, this.deps.now);
    return this.commands.take();
  }

  /** `connect` (first frame) or `refresh`: verify and adopt a new connection token. */
  async authenticate(token: string | undefined, kind: 'connect' | 'refresh'): Promise<void> {
    if (token === undefined) return;
    const verifier = this.verifier;
    if (!verifier) throw new HubbubError('token_invalid', 'this server has no token key configured');
    let next: ConnectionIdentity;
    try {
      next = await verifier.connection(token);
    } catch (err) {
      throw tokenFailure(err);
    }
    if (this.deps.isRevoked(next)) throw new HubbubError('token_invalid', 'this token was revoked when the server disconnected its user: sign a new one');
    this.assertTokenChannels(next);
    if (kind === 'refresh' && next.user !== this.id.user) {
      throw new HubbubError('forbidden', 'a refreshed token must name the same user as the connection');
    }
    const previous = this.id.user;
    this.id = next;
    if (previous !== next.user) this.deps.onIdentity(this, previous);
    this.scheduleExpiry();
  }

  /**
   * The channels a connection token lists are subscribed without asking the namespace (the backend
   * granted them), but a user channel stays its users' own: a token listing another user's
   * channel is refused as a whole, on every transport (SSE and poll authorize each channel).
   */
  assertTokenChannels(identity: ConnectionIdentity = this.id): void {
    for (const channel of identity.channels) {
      const decision = this.deps.policy.canSubscribe(identity, channel);
      if (!decision.ok) throw new HubbubError('forbidden', `the token lists ${channel}: ${decision.reason}`);
    }
  }

  /** Subscribe/unsubscribe/disconnect on behalf of the server (user commands). */
  get connection(): ConnectionHandle | undefined {
    return this.handle;
  }

  /** The connection or request ended; `peer` is the client's close frame, when it sent one. */
  close(peer?: PeerClose): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.handle = undefined;
    this.deps.onClose(this, peer);
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    // The verifier accepts a token until exp + leeway: the connection it opened lives as long, or
    // a token inside the leeway would be accepted and closed at once (and a long-poll answered
    // at once, again and again, until the leeway ran out).
    const leeway = this.deps.leewayMs;
    const at = this.expiresAt;
    if (at === undefined || !this.handle) return;
    // setTimeout overflows past 2^31-1 ms (24.8 days): re-arm from there.
    const delay = Math.min(Math.max(0, at + leeway - this.deps.now()), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => {
      const due = this.expiresAt;
      // A subscription token that ran out ends the connection too: the client refreshes its tokens,
      // reconnects and recovers, exactly as for the connection token.
      if (due !== undefined && due + leeway <= this.deps.now()) this.handle?.disconnect('token_expired');
      else this.scheduleExpiry();
    }, delay);
    this.expiryTimer.unref();
  }
}
