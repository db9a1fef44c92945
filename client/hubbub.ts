import { isChannelName } from '../contract/channel.js';
import { shouldReconnect } from '../contract/disconnect.js';
import { formatPosition, parsePosition } from '../contract/position.js';
import type { Publication, SubscribeResult } from '../contract/publication.js';
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { resolveOptions, type HubbubOptions, type ResolvedOptions } from './options.js';
import { HubbubDisconnectError, HubbubError, HubbubNoTransportError } from './errors.js';
import { ChannelState, Subscription, type SubscribeOptions } from './subscription.js';
import type { ChannelWanted, ClientTransport, CloseInfo, TransportEnv, TransportFactory, TransportName } from './types.js';
import { normalizeBaseUrl } from './wire.js';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'closed';

export type HubbubEvents = {
  state: [state: ConnectionState, previous: ConnectionState];
  connecting: [info: { attempt: number }];
  connected: [info: { transport: TransportName; client?: string; node?: string }];
  disconnected: [info: { code: number; reason: string; reconnectIn: number }];
  closed: [info: { error?: Error }];
  /** The transport in use changed (first connect, or negotiation/reconnect landed on another one). */
  transport: [name: TransportName, previous: TransportName | undefined];
  /** Connection-level errors, and channel errors of subscriptions without their own onError. */
  error: [error: Error];
};

/**
 * The realtime client: negotiates a transport, keeps one position per channel and resubscribes
 * from it after every reconnect, so publications arrive once, in order, and any gap is announced
 * (`recovered: false`) rather than silent.
 */
export class Hubbub extends Emitter<HubbubEvents> {
  readonly url: string;
  readonly #o: ResolvedOptions;
  readonly #env: TransportEnv;
  readonly #channels = new Map<string, ChannelState>();
  readonly #retryTimers = new Map<string, unknown>();
  #state: ConnectionState = 'disconnected';
  #transport: ClientTransport | undefined;
  /** Identifies the transport whose handler calls count; calls of replaced transports are ignored. */
  #token: object | undefined;
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
    // Deferred, so listeners attached right after construction see the first events.
    if (this.#autoConnect) queueMicrotask(() => this.#autoConnect && this.connect());
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The transport of the open connection; undefined while not connected. */
  get transport(): TransportName | undefined {
    return this.#inUse;
  }

  connect(): void {
    this.#autoConnect = false;
    if (this.#state === 'connecting' || this.#state === 'connected') return;
    this.#env.timers.clearTimeout(this.#reconnectTimer);
    this.#startRound();
  }

  /** Stops everything: the connection, reconnects, and every subscription (they end 'unsubscribed'). connect() starts over. */
  close(): void {
    this.#autoConnect = false;
    if (this.#state === 'closed') return;
    this.#shutdown();
    this.#endChannels('closed');
    this.#setState('closed');
    this.emit('closed', {});
  }

  subscribe(channel: string, options: SubscribeOptions): Subscription {
    if (!isChannelName(channel)) throw new HubbubError('invalid_channel', `invalid channel name ${JSON.stringify(channel)}`, { status: 0 });
    if (this.#channels.has(channel)) throw new HubbubError('already_subscribed', `already subscribed to ${channel}`, { status: 0 });
    if (options.since && !parsePosition(formatPosition(options.since))) {
      throw new HubbubError('invalid_cursor', `invalid since position ${JSON.stringify(options.since)}`, { status: 0 });
    }
    const ch = new ChannelState(channel, options);
    this.#channels.set(channel, ch);
    ch.subscribing('initial');
    this.#transport?.subscribe(channel, ch.position);
    return new Subscription(ch, (c) => this.#unsubscribe(c));
  }

  #unsubscribe(ch: ChannelState): void {
    if (this.#channels.get(ch.channel) !== ch) return;
    this.#channels.delete(ch.channel);
    this.#clearRetry(ch.channel);
    this.#transport?.unsubscribe(ch.channel);
    ch.unsubscribed('client');
  }

  /* ---------- Negotiation and reconnect ---------- */

  #startRound(): void {
    this.#setState('connecting');
    this.emit('connecting', { attempt: this.#attempt });
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
    const token = {};
    this.#token = token;
    const live = () => this.#token === token;
    try {
      this.#transport = this.#open(factory, live);
    } catch (err) {
      // A constructor that throws (bad URL, blocked scheme) is a failed open like any other.
      this.#lastFailure = { code: 1006, reason: `${factory.name}: ${String(err)}`, opened: false };
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
      handlers: {
        onOpen: (info) => live() && this.#onOpen(factory.name, info),
        onSubscribed: (r) => live() && this.#onSubscribed(r),
        onPublication: (p) => live() && this.#onPublication(p),
        onError: (e, channel) => live() && this.#onError(e, channel),
        onClose: (info) => live() && this.#onClose(info),
      },
    });
  }

  #roundFailed(): void {
    const f = this.#lastFailure;
    // Every transport failed; if the last one was refused for good (e.g. too_many_channels), so will the next round be.
    if (f?.error && !f.error.retryable) return this.#terminate(f.error);
    this.#scheduleReconnect(f ?? { code: 1006, reason: 'no transport could connect', opened: false });
  }

  #scheduleReconnect(info: CloseInfo): void {
    const delay = backoffDelay(this.#attempt++, this.#o.backoff);
    this.#setState('disconnected');
    this.emit('disconnected', { code: info.code, reason: info.reason, reconnectIn: delay });
    this.#reconnectTimer = this.#env.timers.setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state === 'disconnected') this.#startRound();
    }, delay);
  }

  #onOpen(name: TransportName, info: { client?: string; node?: string }): void {
    this.#attempt = 0;
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
    this.#token = undefined;
    this.#transport = undefined;
    if (!info.opened) {
      this.#lastFailure = info;
      return this.#tryNext();
    }
    this.#inUse = undefined;
    for (const channel of this.#retryTimers.keys()) this.#clearRetry(channel);
    for (const ch of this.#channels.values()) ch.subscribing('reconnect');
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
    this.#endChannels('closed', error);
    this.#setState('closed');
    this.emit('closed', { error });
  }

  #shutdown(): void {
    this.#env.timers.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    for (const channel of this.#retryTimers.keys()) this.#clearRetry(channel);
    const transport = this.#transport;
    this.#token = undefined;
    this.#transport = undefined;
    this.#inUse = undefined;
    transport?.close();
  }

  /* ---------- Channels ---------- */

  #wanted(): ChannelWanted[] {
    return [...this.#channels.values()].map((ch) => ({ channel: ch.channel, since: ch.position }));
  }

  #onSubscribed(r: SubscribeResult): void {
    this.#channels.get(r.channel)?.subscribed(r);
  }

  #onPublication(p: Publication): void {
    const ch = this.#channels.get(p.channel);
    if (ch?.publication(p) !== 'gap') return;
    // Resubscribe from the last position delivered: the server recovers the missing offsets or says recovered:false.
    ch.subscribing('gap');
    this.#transport?.subscribe(ch.channel, ch.position);
  }

  #onError(error: Error, channel: string | undefined): void {
    const ch = channel === undefined ? undefined : this.#channels.get(channel);
    if (!ch) return this.emit('error', error);
    if (error instanceof HubbubError && error.retryable) {
      ch.subscribing('retry');
      const attempt = (ch.retries += 1);
      const delay = backoffDelay(attempt - 1, this.#o.backoff);
      this.#clearRetry(ch.channel);
      this.#retryTimers.set(
        ch.channel,
        this.#env.timers.setTimeout(() => {
          this.#retryTimers.delete(ch.channel);
          if (this.#channels.get(ch.channel) === ch && this.#state === 'connected') this.#transport?.subscribe(ch.channel, ch.position);
        }, delay),
      );
      return;
    }
    this.#channels.delete(ch.channel);
    if (!ch.options.onError) this.emit('error', error);
    ch.unsubscribed('error', error);
  }

  #clearRetry(channel: string): void {
    this.#env.timers.clearTimeout(this.#retryTimers.get(channel));
    this.#retryTimers.delete(channel);
  }

  #endChannels(reason: 'closed', error?: Error): void {
    const all = [...this.#channels.values()];
    this.#channels.clear();
    for (const ch of all) ch.unsubscribed(reason, error);
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }
}
