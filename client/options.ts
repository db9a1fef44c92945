import { DEFAULT_TRANSPORTS, TRANSPORTS } from './transports/index.js';
import {
  realTimers,
  type EventSourceConstructor,
  type FetchLike,
  type HeaderEventSourceConstructor,
  type Timers,
  type HostEnv,
  type TransportFactory,
  type TransportName,
  type WebSocketConstructor,
} from './types.js';

export interface HubbubOptions {
  /** Negotiation order, first preferred; a custom TransportFactory is accepted too. */
  transports?: ReadonlyArray<TransportName | TransportFactory>;
  /** A WebSocket class (e.g. `ws` in Node). Default: the global one. `null`: act as if there were none. */
  WebSocket?: WebSocketConstructor | null;
  /**
   * An EventSource class. Default: the global one in a browser; in Node (client/index.ts), the
   * `eventsource` package's, which sends the token in a header. `null`: no SSE.
   */
  EventSource?: EventSourceConstructor | null;
  /** Default: the global fetch. `null`: act as if there were none (no long-poll, no publish over HTTP). */
  fetch?: FetchLike | null;
  /** Ceiling of the first reconnect delay, ms (full jitter: the delay is uniform below the ceiling). Default 500. */
  minReconnectDelay?: number;
  /** Largest reconnect delay ceiling, ms. Default 20 000. */
  maxReconnectDelay?: number;
  random?: () => number;
  timers?: Timers;
  /** ms a long-poll request may wait on the server. Default 25 000. */
  pollTimeout?: number;
  /** ms to wait for a WebSocket or SSE connection to open before trying the next transport. Default 10 000. */
  connectTimeout?: number;
  /** Connect on the next microtask after construction (default true); otherwise call connect(). */
  autoConnect?: boolean;
  /** The connection token (a JWT from your backend). Without token and getToken the client is anonymous. */
  token?: string;
  /**
   * Fetches a connection token from your backend: before the first connect when no token is given,
   * after the server says the token expired, and ahead of its `exp`. A rejection counts as a
   * failed connect (backoff, then again).
   */
  getToken?: () => Promise<string>;
  /** The clock, ms since the Unix epoch, for token expiry; injected in tests with `timers`. Default Date.now. */
  now?: () => number;
}

export interface ResolvedOptions {
  env: HostEnv;
  token: string | undefined;
  getToken: (() => Promise<string>) | undefined;
  factories: TransportFactory[];
  backoff: { minDelay: number; maxDelay: number; random: () => number };
  pollTimeout: number;
  connectTimeout: number;
  autoConnect: boolean;
}

export function resolveOptions(options: HubbubOptions): ResolvedOptions {
  const factories = (options.transports ?? DEFAULT_TRANSPORTS).map((t) => {
    // Plain-JS callers pass names from URLs or config: fail here rather than at the first connect.
    const factory = typeof t === 'string' ? TRANSPORTS[t] : t;
    if (!factory) throw new TypeError(`unknown transport ${JSON.stringify(t)}; known: ${Object.keys(TRANSPORTS).join(', ')}`);
    return factory;
  });
  return {
    env: resolveEnv(options, options.timers ?? realTimers),
    token: options.token,
    getToken: options.getToken,
    factories,
    backoff: { minDelay: options.minReconnectDelay ?? 500, maxDelay: options.maxReconnectDelay ?? 20_000, random: options.random ?? Math.random },
    pollTimeout: options.pollTimeout ?? 25_000,
    connectTimeout: options.connectTimeout ?? 10_000,
    autoConnect: options.autoConnect ?? true,
  };
}

type Globals = { WebSocket?: WebSocketConstructor; EventSource?: EventSourceConstructor; fetch?: FetchLike };

/** What the host offers, after the app's injections; `null` in an option switches an API off on purpose (tests, policy). */
function resolveEnv(options: HubbubOptions, timers: Timers): HostEnv {
  const g = globalThis as Globals;
  const pick = <T>(injected: T | null | undefined, global: T | undefined): T | undefined =>
    injected === null ? undefined : (injected ?? global);
  // Browsers throw "Illegal invocation" when fetch is called with another `this`.
  const globalFetch = typeof g.fetch === 'function' ? g.fetch.bind(globalThis) : undefined;
  const fetch = pick(options.fetch, globalFetch);
  const EventSource = pick(options.EventSource, g.EventSource);
  // Only a class that says so can send headers; any other may be a native one.
  const withHeaders = EventSource && 'withHeaders' in EventSource ? (EventSource as HeaderEventSourceConstructor).withHeaders : undefined;
  const openEventSourceWithHeaders: HostEnv['openEventSourceWithHeaders'] =
    withHeaders && fetch ? (url, headers) => withHeaders(url, headers, fetch) : undefined;
  return { WebSocket: pick(options.WebSocket, g.WebSocket), EventSource, openEventSourceWithHeaders, fetch, timers, now: options.now ?? Date.now };
}
