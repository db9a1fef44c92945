import { initClient, type ApiFetcher, type ClientInferRequest, type ClientInferResponseBody } from '@ts-rest/core';
import { api, type Api } from '../contract/api.js';
import { formatPosition, type StreamPosition } from '../contract/position.js';
import { HubbubError } from './errors.js';

// A backend catches what the publisher throws without a second import.
export { HubbubError };
import type { FetchLike } from './types.js';
import { normalizeBaseUrl, parseJson } from './wire.js';

export interface PublisherOptions {
  /** The server's http(s) base URL. */
  url: string;
  apiKey: string;
  /** Default: the global fetch. */
  fetch?: FetchLike;
}

/* Request and response types come from the contract's router, so they cannot drift from the server. */
export type PublishResult = ClientInferResponseBody<Api['publish'], 200>;
export type BroadcastResult = ClientInferResponseBody<Api['broadcast'], 200>;
export type HistoryResult = ClientInferResponseBody<Api['history'], 200>;
export type InfoResult = ClientInferResponseBody<Api['info'], 200>;
export type ChannelsResult = ClientInferResponseBody<Api['channels'], 200>;
export type PresenceResult = ClientInferResponseBody<Api['presence'], 200>;
type PublishBody = ClientInferRequest<Api['publish']>['body'];
type BroadcastBody = ClientInferRequest<Api['broadcast']>['body'];
type HistoryWireQuery = NonNullable<ClientInferRequest<Api['history']>['query']>;

export type PublishOptions = Omit<PublishBody, 'channel' | 'data'>;
export type BroadcastOptions = Omit<BroadcastBody, 'channels' | 'data'>;
export interface HistoryQuery {
  /** Only publications after this position. */
  since?: StreamPosition | string;
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}

export interface Publisher {
  /** `data`: any JSON value but undefined (the contract's JsonData). */
  publish(channel: string, data: PublishBody['data'], options?: PublishOptions): Promise<PublishResult>;
  broadcast(channels: string[], data: BroadcastBody['data'], options?: BroadcastOptions): Promise<BroadcastResult>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  /** Who is subscribed to the channel, on every node of the cluster. */
  presence(channel: string): Promise<PresenceResult>;
  info(): Promise<InfoResult>;
  channels(): Promise<ChannelsResult>;
}

/** The backend side: publish over the REST API with an API key. Every non-2xx answer throws a HubbubError. */
export function createPublisher(options: PublisherOptions): Publisher {
  const fetcher = makeFetcher(options.fetch);
  const client = initClient(api, {
    baseUrl: normalizeBaseUrl(options.url),
    baseHeaders: { authorization: `Bearer ${options.apiKey}` },
    api: fetcher,
  });
  return {
    async publish(channel, data, opts = {}) {
      return ok(await client.publish({ body: { ...opts, channel, data } }));
    },
    async broadcast(channels, data, opts = {}) {
      return ok(await client.broadcast({ body: { ...opts, channels, data } }));
    },
    async history(channel, query = {}) {
      const q: HistoryWireQuery = {};
      if (query.since !== undefined) q.since = typeof query.since === 'string' ? query.since : formatPosition(query.since);
      if (query.limit !== undefined) q.limit = query.limit;
      if (query.reverse !== undefined) q.reverse = query.reverse ? 'true' : 'false';
      return ok(await client.history({ params: { channel: pathSegment(channel) }, query: q }));
    },
    async presence(channel) {
      return ok(await client.presence({ params: { channel: pathSegment(channel) } }));
    },
    async info() {
      return ok(await client.info());
    },
    async channels() {
      return ok(await client.channels());
    },
  };
}

/** Returns the 2xx body; any other status becomes a HubbubError with the code from the error body. */
function ok<R extends { status: number; body: unknown }>(res: R): Extract<R, { status: 200 }>['body'] {
  if (res.status >= 200 && res.status < 300) return res.body;
  throw HubbubError.fromResponse(res.status, res.body);
}

/**
 * ts-rest's default fetcher calls the global fetch; this one uses the injected fetch, and turns
 * a network failure into a retryable HubbubError so callers handle one error type.
 */
function makeFetcher(injected: FetchLike | undefined): ApiFetcher {
  return async ({ path, method, headers, body, fetchOptions }) => {
    const f = injected ?? (globalThis.fetch?.bind(globalThis) as FetchLike | undefined);
    if (!f) throw new HubbubError('unavailable', 'no fetch in this environment', { status: 0, retryable: false });
    let res: Response;
    let text: string;
    try {
      res = await f(path, { ...fetchOptions, method, headers, body: body ?? null });
      text = await res.text();
    } catch (cause) {
      throw new HubbubError('unavailable', `request to ${method} ${path} failed: ${String(cause)}`, { status: 0, retryable: true, cause });
    }
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    return { status: res.status, body: isJson ? (parseJson(text) ?? text) : text, headers: res.headers };
  };
}

/** ts-rest puts path parameters in as they are: a user channel's `#` would start the URL's fragment. */
function pathSegment(value: string): string {
  return encodeURIComponent(value);
}
