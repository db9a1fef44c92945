import type { Publication, SubscribeResult } from '../contract/publication.js';
import type { TokenKeeper } from './auth.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { HubbubError } from './errors.js';
import { ChannelState, type SubscribeOptions } from './subscription.js';
import type { ChannelWanted, ClientTransport, Timers } from './types.js';

// The client's channel set, whatever the connection does: positions, subscription tokens, gap
// resubscribes and the retries of failed subscribes. The connection (hubbub.ts) owns the transport.
// Server-side channels (the token's, the server API's) are in the set too, with the same
// exactly-once rules: the app did not subscribe them and hears them through the hub's events.

export interface ChannelsHost {
  timers: Timers;
  backoff: BackoffOptions;
  transport(): ClientTransport | undefined;
  /** connecting or connected: channel tokens may be fetched. */
  active(): boolean;
  connected(): boolean;
  /** Errors of channels without their own onError. */
  error(error: Error): void;
  keeper(token: string | undefined, getToken: (() => Promise<string>) | undefined, channel: string): TokenKeeper;
  /** Every publication delivered and every subscribed result applied, of every channel. */
  delivered(publication: Publication): void;
  subscribed(result: SubscribeResult): void;
}

/** A server-side channel has no app callbacks: the hub's events deliver it. */
const SERVER_SIDE: SubscribeOptions = { onPublication: () => undefined };

export class Channels {
  readonly #all = new Map<string, ChannelState>();
  readonly #retryTimers = new Map<string, unknown>();
  /** Channels whose token is being fetched, so a second subscribe does not follow the first. */
  readonly #preparing = new Set<ChannelState>();

  constructor(private readonly host: ChannelsHost) {}

  /** Whether the app subscribed `channel`. */
  has(channel: string): boolean {
    return this.#all.get(channel)?.server === false;
  }

  get server(): string[] {
    return [...this.#all.values()].filter((ch) => ch.server).map((ch) => ch.channel);
  }

  add(channel: string, options: SubscribeOptions): ChannelState {
    // The app takes over a server-side channel where it is, so nothing is lost or delivered twice.
    const at = this.#all.get(channel)?.position;
    const ch = new ChannelState(channel, at && !options.since ? { ...options, since: at } : options);
    const get = options.getToken;
    if (options.token !== undefined || get) {
      ch.auth = this.host.keeper(options.token, get && (() => get(channel)), channel);
      if (this.host.active()) ch.auth.start();
    }
    this.#all.set(channel, ch);
    ch.subscribing('initial');
    this.subscribeOn(ch);
    return ch;
  }

  /** The app unsubscribed. */
  remove(ch: ChannelState): void {
    if (this.#all.get(ch.channel) !== ch) return;
    this.#forget(ch);
    this.host.transport()?.unsubscribe(ch.channel);
    ch.unsubscribed('client');
  }

  keepers(): TokenKeeper[] {
    return [...this.#all.values()].flatMap((ch) => ch.auth ?? []);
  }

  /** Subscribes on the current transport, once the channel has the token it needs. */
  subscribeOn(ch: ChannelState): void {
    if (!ch.auth?.needsFetch()) return this.host.transport()?.subscribe(ch.channel, ch.position, ch.auth?.token);
    if (!this.host.active() || this.#preparing.has(ch)) return;
    this.#preparing.add(ch);
    ch.auth.fetch().then(
      () => this.#preparing.delete(ch) && this.#all.get(ch.channel) === ch && this.subscribeOn(ch),
      (err: HubbubError) => this.#preparing.delete(ch) && this.#all.get(ch.channel) === ch && this.onError(err, ch.channel),
    );
  }

  /** A new round: channels that need a token fetch it now; the others are read by the transport when it opens. */
  connecting(): void {
    for (const ch of this.#all.values()) if (ch.auth?.needsFetch()) this.subscribeOn(ch);
  }

  /** The connection dropped: every channel resubscribes from its position once it is back. */
  reconnecting(): void {
    this.clearRetries();
    for (const ch of this.#all.values()) ch.subscribing('reconnect');
  }

  /**
   * What a connection or request subscribes: the app's channels (one still waiting for its token
   * joins once it has it), then the server-side ones and the rest of `tokenChannels`, each with its
   * position. SSE and poll list them all, so the cursor has one entry per channel the server serves.
   */
  wanted(tokenChannels: readonly string[]): ChannelWanted[] {
    const out: ChannelWanted[] = [];
    for (const ch of this.#all.values()) {
      if (ch.server || !ch.auth?.needsFetch()) out.push({ channel: ch.channel, since: ch.position, token: ch.auth?.token, server: ch.server });
    }
    // Server-side channels go after the app's, as the server appends the token's.
    out.sort((a, b) => Number(a.server) - Number(b.server));
    for (const channel of tokenChannels) {
      if (!out.some((w) => w.channel === channel)) out.push({ channel, since: this.#all.get(channel)?.position, server: true });
    }
    return out;
  }

  /** The server subscribes the connection to these channels on its own now: other server-side channels are gone. */
  keepServer(channels: readonly string[]): void {
    for (const ch of [...this.#all.values()]) if (ch.server && !channels.includes(ch.channel)) this.#forget(ch);
  }

  /** `unasked`: the server subscribed on its own; a channel not in the set becomes a server-side one. */
  onSubscribed(r: SubscribeResult, unasked = false): void {
    let ch = this.#all.get(r.channel);
    if (!ch && unasked) {
      this.#all.set(r.channel, (ch = new ChannelState(r.channel, SERVER_SIDE)));
      ch.server = true;
    }
    if (ch?.subscribed(r)) this.host.subscribed(r);
  }

  /** The server unsubscribed the connection on its own (server API). */
  onUnsubscribed(channel: string): void {
    const ch = this.#all.get(channel);
    if (!ch) return;
    this.#forget(ch);
    ch.unsubscribed('server');
  }

  onPublication(p: Publication): void {
    const ch = this.#all.get(p.channel);
    const verdict = ch?.publication(p);
    if (verdict === 'delivered') return this.host.delivered(p);
    if (!ch || verdict !== 'gap') return;
    // Resubscribe from the last position delivered: the server recovers the missing offsets or says recovered:false.
    ch.subscribing('gap');
    this.subscribeOn(ch);
  }

  /** A subscribe failed: retry a retryable failure (or an expired token there is a getToken for), end the channel otherwise. */
  onError(error: Error, channel: string): void {
    const ch = this.#all.get(channel);
    if (!ch) return this.host.error(error);
    const refetch = error instanceof HubbubError && error.code === 'token_expired' && ch.auth?.canRefresh === true;
    if (refetch) ch.auth!.stale = true;
    if (!(error instanceof HubbubError) || !(error.retryable || refetch)) return this.end(ch, error);
    ch.subscribing('retry');
    const delay = backoffDelay((ch.retries += 1) - 1, this.host.backoff);
    this.#clearRetry(ch.channel);
    const timer = this.host.timers.setTimeout(() => {
      this.#retryTimers.delete(ch.channel);
      // While connecting, only a token still to fetch needs the retry: the open resubscribes the rest.
      if (this.#all.get(ch.channel) === ch && (this.host.connected() || ch.auth?.needsFetch())) this.subscribeOn(ch);
    }, delay);
    this.#retryTimers.set(ch.channel, timer);
  }

  /** Ends the channels whose token is one of `keepers` (expired, and nothing to refresh it with). */
  endWithTokens(keepers: readonly TokenKeeper[], error: Error): void {
    for (const ch of [...this.#all.values()]) if (ch.auth && keepers.includes(ch.auth)) this.end(ch, error);
  }

  end(ch: ChannelState, error: Error): void {
    this.#forget(ch);
    if (!ch.options.onError) this.host.error(error);
    ch.unsubscribed('error', error);
  }

  endAll(error?: Error): void {
    const all = [...this.#all.values()];
    this.#all.clear();
    for (const ch of all) ch.unsubscribed('closed', error);
  }

  startTokens(): void {
    for (const ch of this.#all.values()) ch.auth?.start();
  }

  stopTokens(): void {
    for (const ch of this.#all.values()) ch.auth?.stop();
  }

  clearRetries(): void {
    for (const channel of [...this.#retryTimers.keys()]) this.#clearRetry(channel);
  }

  #forget(ch: ChannelState): void {
    this.#all.delete(ch.channel);
    this.#clearRetry(ch.channel);
    ch.auth?.stop();
  }

  #clearRetry(channel: string): void {
    this.host.timers.clearTimeout(this.#retryTimers.get(channel));
    this.#retryTimers.delete(channel);
  }
}
