import type { StreamPosition } from '../contract/position.js';
import type { JsonData, Publication, SubscribeResult } from '../contract/publication.js';
import type { HubbubError } from './errors.js';

export type TransportName = 'websocket' | 'sse' | 'poll';

/** Injected timers, so tests can drive reconnects and pings without waiting. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/* ---------- What the host provides: browser globals, or `ws` and fetch in Node ---------- */

/**
 * The part of the WebSocket API the client uses; the browser's WebSocket and `ws` both fit.
 * The `on*` handlers take `never` because the DOM's and `ws`'s event classes differ: the transport
 * declares the few fields it reads where it assigns the handler.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** What an SSE listener reads from an event; a browser MessageEvent fits. */
export interface SseMessageEvent {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
}

/** The part of the EventSource API the client uses; the browser's EventSource and the `eventsource` package's both fit. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  addEventListener(type: string, listener: (event: SseMessageEvent) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;
/** An EventSource class that can also open a stream with request headers (the Node entry's, client/node-event-source.ts). */
export interface HeaderEventSourceConstructor extends EventSourceConstructor {
  withHeaders(url: string, headers: Record<string, string>, fetch: FetchLike): EventSourceLike;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** What the host (a browser, Node) provides the client: `undefined` means it has no such API. */
export interface HostEnv {
  WebSocket: WebSocketConstructor | undefined;
  EventSource: EventSourceConstructor | undefined;
  /**
   * Set when the EventSource class can send request headers (HeaderEventSourceConstructor): the
   * connection token then goes in Authorization. A native EventSource cannot; it goes in the URL.
   */
  openEventSourceWithHeaders?: ((url: string, headers: Record<string, string>) => EventSourceLike) | undefined;
  fetch: FetchLike | undefined;
  timers: Timers;
  /** ms since the Unix epoch (token expiry, Retry-After dates). */
  now: () => number;
}

/* ---------- The transport seam: one interface, one file per implementation ---------- */

/** Declared per transport as data; the core reads them instead of branching on names. */
export interface TransportCapabilities {
  /** Subscribe/unsubscribe are commands on the open connection; false: the request restarts with the new channel list. */
  readonly commands: boolean;
  /** Publications are pushed over one long-lived response or socket; false: one request per batch. */
  readonly streaming: boolean;
}

export interface CloseInfo {
  /** Close code (WebSocket close, SSE disconnect event), 1006 when the connection failed without one. */
  code: number;
  reason: string;
  /** Whether this transport ever reached the server; false sends negotiation on to the next transport. */
  opened: boolean;
  /** Set when the server answered with an ErrorBody (SSE/poll HTTP errors): its `retryable` decides. */
  error?: HubbubError;
  /** Row name of the disconnect table, when the server sent one. */
  name?: string;
}

/** A publish on the open connection (transports with commands). */
export interface PublishCommand {
  channel: string;
  data: JsonData;
  /** The publication's event name (contract EventName); subscribers' `subscription.on(event)` handlers get it. */
  event?: string;
  tags?: Record<string, string>;
  idempotencyKey?: string;
}

/** What a transport reports to the core. Calls after `close()` are ignored by the core. */
export interface TransportHandlers {
  /** `serverChannels`: the channels the server says it subscribed this connection to on its own (WebSocket `connected`). */
  onOpen(info: { client?: string; node?: string; serverChannels?: string[] }): void;
  /** `unasked`: the server subscribed the channel on its own (the token's, the server API), not for an app subscribe. */
  onSubscribed(result: SubscribeResult, unasked?: boolean): void;
  /** The server ended a subscription on its own (the server API). */
  onUnsubscribed(channel: string): void;
  onPublication(publication: Publication): void;
  /** A command failed (channel set) or the server reported a connection-level error (channel unset). */
  onError(error: Error, channel?: string): void;
  onClose(info: CloseInfo): void;
}

export interface ChannelWanted {
  channel: string;
  /** Resume after this position; undefined: from now. */
  since: StreamPosition | undefined;
  /** The channel's subscription token, when it has one. */
  token?: string | undefined;
  /** Not the app's: the server subscribes it on its own (the token lists it), so only its position is sent. */
  server?: boolean;
}

export interface TransportContext {
  /** The server's http(s) base URL, without a trailing slash. */
  baseUrl: string;
  env: HostEnv;
  handlers: TransportHandlers;
  /** The channels the client wants now, with their latest positions; read whenever a request is (re)built. */
  channels(): ChannelWanted[];
  /** The connection token to send now (connect command, each request); undefined: anonymous. */
  token(): string | undefined;
  /** ms a long-poll may wait on the server. */
  pollTimeout: number;
  /** ms to wait for the connection to open before trying the next transport. */
  connectTimeout: number;
}

/** One client connection's wire. */
export interface ClientTransport {
  /** (Re)subscribe: recover after `since`. On an already subscribed channel this restarts it from `since`. */
  subscribe(channel: string, since: StreamPosition | undefined, token?: string): void;
  unsubscribe(channel: string): void;
  /**
   * Only on transports with commands: hands a fresh token (the connection's, or with `channel`
   * that channel's) to the server now. Request-based transports read it for their next request.
   */
  refresh?(token: string, channel?: string): void;
  /** Only on transports with commands: publish over the open connection. */
  publish?(command: PublishCommand): Promise<{ channel: string; epoch: string; offset: number }>;
  /** Client-initiated close: no further handler calls. */
  close(): void;
}

export interface TransportFactory {
  readonly name: TransportName;
  readonly capabilities: TransportCapabilities;
  /** Whether the host has what this transport needs. */
  isAvailable(env: HostEnv): boolean;
  open(ctx: TransportContext): ClientTransport;
}
