import type { Publication, SubscribeResult } from '../contract/publication.js';
import type { TokenKeeper } from './auth.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { HubbubError } from './errors.js';
import { ChannelState, type SubscribeOptions } from './subscription.js';
import type { ChannelWanted, ClientTransport, Timers } from './types.js';

// The client's channel set, whatever the connection does: positions, subscription tokens, gap
// resubscribes and the retries of failed subscribes. The connection (hubbub.ts) owns the transport.

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
}

export class Channels {
  readonly #all = new Map<string, ChannelState>();
  readonly #retryTimers = new Map<string, unknown>();
  /** Channels whose token is being fetched, so a second subscribe does not follow the first. */
  readonly #preparing = new Set<ChannelState>();

  constructor(private readonly host: ChannelsHost) {}

  has(channel: string): boolean {
    return this.#all.has(channel);
  }

  add(channel: string, options: SubscribeOptions): ChannelState {
    const ch = new ChannelState(channel, options);
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

  /** What the transport subscribes to; a channel still waiting for its token joins once it has it. */
  wanted(): ChannelWanted[] {
    const out: ChannelWanted[] = [];
    for (const ch of this.#all.values()) if (!ch.auth?.needsFetch()) out.push({ channel: ch.channel, since: ch.position, token: ch.auth?.token });
    return out;
  }

  onSubscribed(r: SubscribeResult): void {
    this.#all.get(r.channel)?.subscribed(r);
  }

  onPublication(p: Publication): void {
    const ch = this.#all.get(p.channel);
    if (ch?.publication(p) !== 'gap') return;
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
