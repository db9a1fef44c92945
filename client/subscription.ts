import { isEmptyEpoch } from '../contract/empty-epoch.js';
import type { StreamPosition } from '../contract/position.js';
import type { Publication, SubscribeResult } from '../contract/publication.js';
import type { TokenKeeper } from './auth.js';
import { safeCall } from './emitter.js';

export type SubscriptionStatus = 'subscribing' | 'subscribed' | 'unsubscribed';

export type SubscriptionStateEvent =
  | {
      state: 'subscribing';
      /** initial: first subscribe; reconnect: the connection is being re-established; gap: an offset was skipped; retry: the server failed the subscribe with a retryable error. */
      reason: 'initial' | 'reconnect' | 'gap' | 'retry';
    }
  | {
      state: 'subscribed';
      /** false: publications between the last known position and `offset` may be lost (new epoch or history too short). */
      recovered: boolean;
      epoch: string;
      offset: number;
    }
  | {
      state: 'unsubscribed';
      /** client: unsubscribe(); error: a failure no retry fixes; closed: hub.close() or a terminal disconnect; server: the server unsubscribed the connection (server API). */
      reason: UnsubscribeReason;
      error?: Error;
    };

export type UnsubscribeReason = 'client' | 'error' | 'closed' | 'server';

export interface SubscribeOptions {
  /** Recover every publication after this position (e.g. saved from a previous session); default: from now. */
  since?: StreamPosition;
  /** Every publication, named or not; `subscription.on(name, fn)` takes those of one event name. */
  onPublication?: (publication: Publication) => void;
  /** Called on every (re)subscribe; `recovered: false` means a gap the app must fill itself (e.g. from history). */
  onSubscribed?: (result: SubscribeResult) => void;
  onState?: (event: SubscriptionStateEvent) => void;
  onError?: (error: Error) => void;
  /** A subscription token for this channel, where its namespace requires one. */
  token?: string;
  /** Fetches the channel's subscription token: before subscribing when no token is given, after it expired, and ahead of its `exp`. */
  getToken?: (channel: string) => Promise<string>;
}

/** A handler of one event name: the publication's data, then the whole publication (position, tags, publisher). */
export type EventHandler = (data: Publication['data'], publication: Publication) => void;

export type PublicationVerdict = 'delivered' | 'duplicate' | 'gap' | 'ignored';

/**
 * The client's state of one channel: its position, and the rules that keep delivery exactly-once and
 * gap-free across reconnects and transports. Internal; the app sees `Subscription`.
 */
export class ChannelState {
  status: SubscriptionStatus = 'subscribing';
  position: StreamPosition | undefined;
  /** Consecutive retryable subscribe errors, for the retry backoff; reset by a successful subscribe. */
  retries = 0;
  /** The subscription token, when the channel has one. */
  auth: TokenKeeper | undefined;
  /** A server-side channel: the server subscribed it on its own and the app did not ask for it. */
  server = false;
  /** Handlers by event name (subscription.on), made on the first. */
  handlers: Map<string, Set<EventHandler>> | undefined;

  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
  ) {
    this.position = options.since ? { epoch: options.since.epoch, offset: options.since.offset } : undefined;
  }

  subscribing(reason: Extract<SubscriptionStateEvent, { state: 'subscribing' }>['reason']): void {
    if (this.status === 'unsubscribed') return;
    const changed = this.status !== 'subscribing';
    this.status = 'subscribing';
    if (changed || reason === 'initial') safeCall(this.options.onState, { state: 'subscribing', reason });
  }

  /** Applies a subscribed result; returns false when it changed nothing and the app was not told. */
  subscribed(r: SubscribeResult): boolean {
    if (this.status === 'unsubscribed') return false;
    const p = this.position;
    const sameEpoch = p !== undefined && p.epoch === r.epoch;
    // Long-poll repeats its subscriptions in every response and SSE in every restarted stream:
    // a recovered result that does not move an established subscription is not news.
    if (this.status === 'subscribed' && r.recovered && sameEpoch && r.offset === p.offset) return false;
    // Never move back within an epoch: what the app already saw would be delivered twice.
    if (!(r.recovered && sameEpoch && r.offset < p.offset)) this.position = { epoch: r.epoch, offset: r.offset };
    this.status = 'subscribed';
    this.retries = 0;
    safeCall(this.options.onState, { state: 'subscribed', recovered: r.recovered, epoch: r.epoch, offset: r.offset });
    safeCall(this.options.onSubscribed, r);
    return true;
  }

  /**
   * Offsets are contiguous within an epoch (+1 per publication), so anything other than
   * position + 1 is either a duplicate (drop it) or a gap (resubscribe from the position and let
   * the server recover or say recovered:false). A gap is never delivered silently.
   */
  publication(pub: Publication): PublicationVerdict {
    if (this.status !== 'subscribed') return 'ignored';
    // From an empty position (nothing published yet) the first generation's offset 1 is next, whatever its epoch.
    const p = this.position && isEmptyEpoch(this.position.epoch) && this.position.offset === 0 ? { epoch: pub.epoch, offset: 0 } : this.position;
    if (p !== undefined) {
      if (pub.epoch !== p.epoch) return 'gap';
      if (pub.offset <= p.offset) return 'duplicate';
      if (pub.offset !== p.offset + 1) return 'gap';
    }
    this.position = { epoch: pub.epoch, offset: pub.offset };
    safeCall(this.options.onPublication, pub);
    const named = pub.event === undefined ? undefined : this.handlers?.get(pub.event);
    // A copy, so a handler may remove itself (or another) while they run.
    if (named) for (const fn of [...named]) safeCall(fn, pub.data, pub);
    return 'delivered';
  }

  unsubscribed(reason: UnsubscribeReason, error?: Error): void {
    if (this.status === 'unsubscribed') return;
    this.status = 'unsubscribed';
    if (error) safeCall(this.options.onError, error);
    safeCall(this.options.onState, error ? { state: 'unsubscribed', reason, error } : { state: 'unsubscribed', reason });
  }
}

/** What `hub.subscribe()` returns. */
export class Subscription {
  readonly #state: ChannelState;
  readonly #unsubscribe: (state: ChannelState) => void;

  constructor(state: ChannelState, unsubscribe: (state: ChannelState) => void) {
    this.#state = state;
    this.#unsubscribe = unsubscribe;
  }

  get channel(): string {
    return this.#state.channel;
  }

  /** The position of the last publication delivered (or of the last subscribe), to save and pass as `since` later. */
  get position(): StreamPosition | undefined {
    const p = this.#state.position;
    return p ? { epoch: p.epoch, offset: p.offset } : undefined;
  }

  get status(): SubscriptionStatus {
    return this.#state.status;
  }

  /**
   * Calls `handler` with the data and the publication of each publication named `event`, in order,
   * after `onPublication`. Returns a function that removes it (as `off` does).
   */
  on(event: string, handler: EventHandler): () => void {
    const handlers = (this.#state.handlers ??= new Map());
    let set = handlers.get(event);
    if (!set) handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => this.off(event, handler);
  }

  off(event: string, handler: EventHandler): void {
    const handlers = this.#state.handlers;
    const set = handlers?.get(event);
    if (!set?.delete(handler) || set.size > 0) return;
    handlers!.delete(event);
  }

  unsubscribe(): void {
    this.#unsubscribe(this.#state);
  }
}
