import { isChannelName } from '../contract/channel-names.js';
import { ABNORMAL_CLOSURE, DISCONNECT_TABLE, shouldReconnect } from '../contract/disconnect.js';
import { formatPosition, parsePosition } from '../contract/position-text.js';
import type { JsonData } from '../contract/publication.js';
import { TokenKeeper, markExpired, tokenChannels } from './auth.js';
import { backoffDelay } from './backoff.js';
import { Channels } from './channels.js';
import { Emitter } from './emitter.js';
import type { ConnectionState, HubbubEvents } from './events.js';
import { resolveOptions, type HubbubOptions, type ResolvedOptions } from './options.js';
import { HubbubDisconnectError, HubbubError, HubbubNoTransportError } from './errors.js';
import { publishOverHttp, type PublishOptions, type PublishResult } from './publish.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import type { ChannelWanted, ClientTransport, CloseInfo, HostEnv, TransportFactory, TransportName } from './types.js';
import { normalizeBaseUrl } from './wire.js';

export type { ConnectionState, HubbubEvents } from './events.js';

/**
 * The realtime client: negotiates a transport, keeps one position per channel and resubscribes
 * from it after every reconnect, so publications arrive once, in order, and any gap is announced
 * (`recovered: false`) rather than silent.
 */
export class Hubbub extends Emitter<HubbubEvents> {
  readonly url: string;
  readonly #o: ResolvedOptions;
  readonly #env: HostEnv;
  readonly #channels: Channels;
  /** The connection token. */
  readonly #auth: TokenKeeper;
  #state: ConnectionState = 'disconnected';
  #transport: ClientTransport | undefined;
  /** Identifies the transport whose handler calls count; calls of replaced transports are ignored. */
  #live: object | undefined;
  /** Counts rounds, so a getToken that resolves after close() or a newer round is ignored. */
  #round = 0;
  /** token_expired refusals since the last successful connect. */
  #expiredStreak = 0;
  #inUse: TransportName | undefined;
  #lastAnnounced: TransportName | undefined;
  #lastWorking: TransportName | undefined;
  #queue: TransportFactory[] = [];
  #lastFailure: CloseInfo | undefined;
  #attempt = 0;
  #reconnectTimer: unknown;
  #autoConnect: boolean;

  constructor(url: string, options: HubbubOptions = {}) {
    super();
    this.url = normalizeBaseUrl(url);
    this.#o = resolveOptions(options);
    this.#env = this.#o.env;
    this.#autoConnect = this.#o.autoConnect;
    this.#auth = this.#keeper(this.#o.token, this.#o.getToken);
    this.#channels = new Channels({
      timers: this.#env.timers,
      backoff: this.#o.backoff,
      transport: () => this.#transport,
      active: () => this.#state === 'connecting' || this.#state === 'connected',
      connected: () => this.#state === 'connected',
      error: (error) => this.emit('error', error),
      keeper: (token, getToken, channel) => this.#keeper(token, getToken, channel),
      delivered: (p) => this.emit('publication', p),
      subscribed: (r) => this.emit('subscribed', r),
    });
    // Deferred, so listeners attached right after construction see the first events.
    if (this.#autoConnect) queueMicrotask(() => this.#autoConnect && this.connect());
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The server-side channels: subscribed by the server on its own, delivered through the 'publication' event. */
  get serverChannels(): string[] {
    return this.#channels.server;
  }

  /** The transport of the open connection; undefined while not connected. */
  get transport(): TransportName | undefined {
    return this.#inUse;
  }

  connect(): void {
    this.#autoConnect = false;
    if (this.#state === 'connecting' || this.#state === 'connected') return;
    this.#env.timers.clearTimeout(this.#reconnectTimer);
    this.#auth.start();
    this.#channels.startTokens();
    this.#startRound();
  }

  /** Stops everything: the connection, reconnects, and every subscription (they end 'unsubscribed'). connect() starts over. */
  close(): void {
    this.#autoConnect = false;
    if (this.#state === 'closed') return;
    this.#shutdown();
    this.#channels.endAll();
    this.#setState('closed');
    this.emit('closed', {});
  }

  /** A server-side channel (see serverChannels) becomes the app's from its position: nothing lost, nothing twice. */
  subscribe(channel: string, options: SubscribeOptions): Subscription {
    if (!isChannelName(channel)) throw new HubbubError('invalid_channel', `invalid channel name ${JSON.stringify(channel)}`, { status: 0 });
    if (this.#channels.has(channel)) throw new HubbubError('already_subscribed', `already subscribed to ${channel}`, { status: 0 });
    if (options.since && !parsePosition(formatPosition(options.since))) {
      throw new HubbubError('invalid_cursor', `invalid since position ${JSON.stringify(options.since)}`, { status: 0 });
    }
    return new Subscription(this.#channels.add(channel, options), (c) => this.#channels.remove(c));
  }

  /**
   * Publishes from this client, where the channel's namespace allows it: over the open WebSocket,
   * else POST /publish with the connection token (also before connecting). Rejects with a HubbubError.
   */
  async publish(channel: string, data: JsonData, options: PublishOptions = {}): Promise<PublishResult> {
    if (!isChannelName(channel)) throw new HubbubError('invalid_channel', `invalid channel name ${JSON.stringify(channel)}`, { status: 0 });
    const command = { ...options, channel, data };
    const t = this.#transport;
    if (this.#state === 'connected' && t?.publish) return t.publish(command);
    return publishOverHttp({ baseUrl: this.url, fetch: this.#env.fetch, now: this.#env.now, auth: this.#auth }, command);
  }

  /* ---------- Tokens ---------- */

  #keeper(token: string | undefined, getToken: (() => Promise<string>) | undefined, channel?: string): TokenKeeper {
    return new TokenKeeper(token, getToken, {
      timers: this.#env.timers,
      now: this.#env.now,
      backoff: this.#o.backoff,
      onFresh: (fresh) => this.#transport?.refresh?.(fresh, channel),
      onError: (error) => this.emit('error', error),
    });
  }

  /**
   * The server refused a token as expired: fetch fresh ones and reconnect at once, resuming from
   * the positions. A token that cannot be refreshed ends the client (the connection's) or its channel.
   */
  #tokenExpired(info: CloseInfo): void {
    const streak = ++this.#expiredStreak;
    const verdict = markExpired([this.#auth, ...this.#channels.keepers()], this.#env.now(), streak);
    const error = info.error ?? new HubbubError('token_expired', 'the token expired and no fresh one came', { status: 0 });
    if (verdict === 'terminal' || verdict.dead.includes(this.#auth)) return this.#terminate(error);
    this.#channels.endWithTokens(verdict.dead, error);
    // Again at once would loop on a getToken that hands out expired tokens: from the second on, back off.
    this.#scheduleReconnect(info, streak > 1 ? undefined : 0);
  }

  /* ---------- Negotiation and reconnect ---------- */

  #startRound(): void {
    this.#setState('connecting');
    this.emit('connecting', { attempt: this.#attempt });
    this.#channels.connecting();
    if (!this.#auth.needsFetch()) return this.#negotiate();
    const round = ++this.#round;
    const current = () => round === this.#round && this.#state === 'connecting';
    this.#auth.fetch().then(
      () => current() && this.#negotiate(),
      (err: HubbubError) => {
        if (!current()) return;
        if (!err.retryable) return this.#terminate(err);
        this.emit('error', err);
        this.#scheduleReconnect({ code: ABNORMAL_CLOSURE, reason: err.message, opened: false });
      },
    );
  }

  #negotiate(): void {
    // A transport that worked before is tried first: it is the likeliest to work again.
    const order = [...this.#o.factories].sort((a, b) => Number(b.name === this.#lastWorking) - Number(a.name === this.#lastWorking));
    this.#queue = order.filter((f) => f.isAvailable(this.#env));
    this.#lastFailure = undefined;
    if (this.#queue.length === 0) return this.#terminate(new HubbubNoTransportError(order.map((f) => f.name)));
    this.#tryNext();
  }

  #tryNext(): void {
    const factory = this.#queue.shift();
    if (!factory) return this.#roundFailed();
    const id = {};
    this.#live = id;
    const live = () => this.#live === id;
    try {
      this.#transport = this.#open(factory, live);
    } catch (err) {
      // A constructor that throws (bad URL, blocked scheme) is a failed open like any other.
      this.#lastFailure = { code: ABNORMAL_CLOSURE, reason: `${factory.name}: ${String(err)}`, opened: false };
      this.#tryNext();
    }
  }

  #open(factory: TransportFactory, live: () => boolean): ClientTransport {
    return factory.open({
      baseUrl: this.url,
      env: this.#env,
      pollTimeout: this.#o.pollTimeout,
      connectTimeout: this.#o.connectTimeout,
      channels: () => this.#wanted(),
      token: () => this.#auth.token,
      handlers: {
        onOpen: (info) => live() && this.#onOpen(factory.name, info),
        onSubscribed: (r, unasked) => live() && this.#channels.onSubscribed(r, unasked),
        onUnsubscribed: (channel) => live() && this.#channels.onUnsubscribed(channel),
        onPublication: (p) => live() && this.#channels.onPublication(p),
        onError: (e, channel) => live() && (channel === undefined ? this.emit('error', e) : this.#channels.onError(e, channel)),
        onClose: (info) => live() && this.#onClose(info),
      },
    });
  }

  /** A readable token says which channels the server subscribes on its own: other server-side ones are gone. */
  #wanted(): ChannelWanted[] {
    const listed = tokenChannels(this.#auth.token);
    if (listed) this.#channels.keepServer(listed);
    return this.#channels.wanted(listed ?? []);
  }

  #roundFailed(): void {
    const f = this.#lastFailure;
    // Every transport failed; if the last one was refused for good (e.g. too_many_channels), so will the next round be.
    if (f?.error && !f.error.retryable) return this.#terminate(f.error);
    this.#scheduleReconnect(f ?? { code: ABNORMAL_CLOSURE, reason: 'no transport could connect', opened: false });
  }

  /** `at`: 0 to reconnect at once; else the backoff, and at least the Retry-After the server sent. */
  #scheduleReconnect(info: CloseInfo, at?: 0): void {
    const delay = at ?? Math.max(backoffDelay(this.#attempt++, this.#o.backoff), info.error?.retryAfter ?? 0);
    this.#setState('disconnected');
    this.emit('disconnected', { code: info.code, reason: info.reason, reconnectIn: delay });
    this.#reconnectTimer = this.#env.timers.setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state === 'disconnected') this.#startRound();
    }, delay);
  }

  #onOpen(name: TransportName, { serverChannels, ...info }: { client?: string; node?: string; serverChannels?: string[] }): void {
    if (serverChannels) this.#channels.keepServer(serverChannels);
    this.#attempt = 0;
    this.#expiredStreak = 0;
    this.#lastWorking = name;
    this.#inUse = name;
    this.#setState('connected');
    const previous = this.#lastAnnounced;
    if (previous !== name) {
      this.#lastAnnounced = name;
      this.emit('transport', name, previous);
    }
    this.emit('connected', { transport: name, ...info });
  }

  #onClose(info: CloseInfo): void {
    this.#live = undefined;
    this.#transport = undefined;
    // A refusal by the server itself (credentials, rate, a terminal code) would be the same on another transport.
    if (!info.opened && !refusedByServer(info)) {
      this.#lastFailure = info;
      return this.#tryNext();
    }
    this.#inUse = undefined;
    this.#channels.reconnecting();
    if (info.error?.code === 'token_expired' || info.code === DISCONNECT_TABLE.token_expired.code) return this.#tokenExpired(info);
    const terminal = info.error
      ? info.error.retryable
        ? undefined
        : info.error
      : shouldReconnect(info.code)
        ? undefined
        : new HubbubDisconnectError(info.code, info.reason, info.name);
    if (terminal) return this.#terminate(terminal);
    this.#scheduleReconnect(info);
  }

  /** A failure no retry can fix: stop, and tell the app and every subscription. */
  #terminate(error: Error): void {
    this.#shutdown();
    this.emit('error', error);
    this.#channels.endAll(error);
    this.#setState('closed');
    this.emit('closed', { error });
  }

  #shutdown(): void {
    this.#env.timers.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#channels.clearRetries();
    this.#auth.stop();
    this.#channels.stopTokens();
    const transport = this.#transport;
    this.#live = undefined;
    this.#transport = undefined;
    this.#inUse = undefined;
    transport?.close();
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }
}

/** Refusals that come from the server itself: trying the next transport would get the same answer. */
function refusedByServer(info: CloseInfo): boolean {
  const code = info.error?.code;
  if (code === 'token_expired' || code === 'token_invalid' || code === 'forbidden' || code === 'rate_limited') return true;
  return info.code >= 4000 && info.code <= 4999;
}
