import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import { apiKey, connection, open } from './access.js';
import { ChannelName, UserId } from './channel.js';
import { ErrorBody, errorResponses } from './errors.js';
import { Offset, PositionText, StreamPosition } from './position.js';
import { PollQuery, PollResponse, RealtimeQuery, SSE_EVENTS } from './frames.js';
import { EventName, JsonData, Publication, Tags } from './publication.js';

const c = initContract();

const AuthHeaders = z.object({
  authorization: z.string().optional().describe('Bearer <API key>'),
});

const IdempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe('Retrying a publish with the same key within 5 minutes returns the first result instead of publishing twice');

export const PublishRequest = z
  .object({
    channel: ChannelName,
    data: JsonData,
    event: EventName.optional(),
    tags: Tags.optional(),
    idempotencyKey: IdempotencyKey,
  })
  .strict();

export const PublishResult = z.object({ channel: ChannelName }).merge(StreamPosition);

export const BroadcastRequest = z
  .object({
    channels: z.array(ChannelName).min(1).max(1000),
    data: JsonData,
    event: EventName.optional(),
    tags: Tags.optional(),
    // Keys are scoped per channel, so one key makes the retry of a whole broadcast safe.
    idempotencyKey: IdempotencyKey.describe('Retrying a broadcast with the same key within 5 minutes returns the first results instead of publishing twice'),
  })
  .strict();

export const BroadcastResult = z.object({
  results: z.array(
    z.union([
      PublishResult,
      z.object({ channel: ChannelName, error: ErrorBody }),
    ]),
  ),
});

export const HistoryQuery = z
  .object({
    since: PositionText.optional().describe('Only publications after this position'),
    limit: z.coerce.number().int().min(1).max(1000).optional().describe('Default: the whole retained history'),
    reverse: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .describe('Newest first'),
  })
  .strict();

export const HistoryResponse = z.object({
  publications: z.array(Publication),
  epoch: z.string(),
  offset: Offset.describe('The current (latest) offset of the channel'),
});

export const ChannelsResponse = z.object({
  channels: z.array(z.object({ channel: ChannelName, subscribers: z.number().int() })),
});

export const NodeInfo = z.object({
  node: z.string(),
  version: z.string(),
  startedAt: z.number().int().describe('ms since the Unix epoch'),
  lastSeen: z.number().int().describe('ms since the Unix epoch of the last heartbeat received from it'),
  // Sent with each heartbeat (absent from nodes of older versions): what the admin dashboard lists.
  connections: z.number().int().optional().describe('Open WebSocket and SSE connections and waiting long-polls'),
  subscriptions: z.number().int().optional(),
  channels: z.number().int().optional().describe('Channels with subscribers on the node'),
  rss: z.number().int().optional().describe('Resident memory of the process, bytes'),
  cpu: z.number().optional().describe('Process CPU use since the previous heartbeat, percent of one core'),
});

export type NodeInfo = z.infer<typeof NodeInfo>;

export const InfoResponse = z.object({
  node: z.string(),
  version: z.string(),
  broker: z.string().describe('memory (one node) or nats'),
  uptime: z.number().describe('seconds since the node started'),
  connections: z.number().int(),
  subscriptions: z.number().int(),
  channels: z.number().int(),
  nodes: z.array(NodeInfo).describe('Live nodes of the cluster, this one included'),
  memory: z
    .object({ rss: z.number().int(), heapUsed: z.number().int(), heapTotal: z.number().int(), external: z.number().int() })
    .describe("This node's process memory in bytes (Node's process.memoryUsage()), for leak watching"),
});
export type InfoResponse = z.infer<typeof InfoResponse>;

export const HealthResponse = z.object({
  status: z.literal('ok'),
  node: z.string(),
  version: z.string(),
  uptime: z.number().describe('seconds since the node started'),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const ReadyResponse = z.object({
  status: z.literal('ready'),
  node: z.string(),
  broker: z.string().describe('memory (one node) or nats'),
});
export type ReadyResponse = z.infer<typeof ReadyResponse>;

export const PresenceEntry = z.object({
  client: z.string().describe('Connection id, unique in the cluster'),
  user: z.string().nullable().describe('User id when the connection is authenticated, else null'),
  info: JsonData.optional().describe("The info claim of the user's token (the subscription token's, when it has one)"),
  node: z.string(),
  transport: z.string(),
  since: z.number().int().describe('ms since the Unix epoch when the subscription started'),
});
export type PresenceEntry = z.infer<typeof PresenceEntry>;

export const PresenceResponse = z.object({
  channel: ChannelName,
  clients: z.array(PresenceEntry),
});

export const UserCommandResult = z.object({
  user: z.string(),
  connections: z.number().int().describe('Live connections of the user that the command reached, on every node'),
});
export const UserChannelRequest = z.object({ channel: ChannelName }).strict();

export const DevTokenRequest = z
  .object({
    user: UserId.max(64),
    info: JsonData.optional(),
  })
  .strict();
export const DevTokenResponse = z.object({
  token: z.string().describe('A connection token for this user, valid for 10 minutes'),
  expires: z.number().int().describe('ms since the Unix epoch'),
});

const ClientAuthHeaders = z.object({
  authorization: z.string().optional().describe('Bearer <connection token>; or the token query parameter, or the token cookie'),
});

export const api = c.router(
  {
    publish: {
      method: 'POST',
      path: '/api/publish',
      headers: AuthHeaders,
      body: PublishRequest,
      responses: {
        200: PublishResult,
        ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'payload_too_large', 'unsupported_media_type', 'internal', 'unavailable'),
      },
      summary: 'Publish one message to a channel',
      metadata: apiKey('publish'),
    },
    broadcast: {
      method: 'POST',
      path: '/api/broadcast',
      headers: AuthHeaders,
      body: BroadcastRequest,
      responses: {
        200: BroadcastResult,
        ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'payload_too_large', 'unsupported_media_type', 'internal', 'unavailable'),
      },
      summary: 'Publish one message to several channels',
      metadata: apiKey('broadcast'),
    },
    history: {
      method: 'GET',
      path: '/api/channels/:channel/history',
      headers: AuthHeaders,
      pathParams: z.object({ channel: ChannelName }),
      query: HistoryQuery,
      responses: {
        200: HistoryResponse,
        ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'unrecoverable_position', 'internal', 'unavailable'),
      },
      summary: 'Read the retained history of a channel',
      metadata: apiKey('history'),
    },
    presence: {
      method: 'GET',
      path: '/api/channels/:channel/presence',
      headers: AuthHeaders,
      pathParams: z.object({ channel: ChannelName }),
      responses: { 200: PresenceResponse, ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable') },
      summary: 'Who is subscribed to a channel, across all nodes',
      metadata: apiKey('presence'),
    },
    channels: {
      method: 'GET',
      path: '/api/channels',
      headers: AuthHeaders,
      responses: { 200: ChannelsResponse, ...errorResponses('unauthorized', 'forbidden', 'rate_limited') },
      summary: 'Channels with subscribers on this node',
      metadata: apiKey('channels'),
    },
    info: {
      method: 'GET',
      path: '/api/info',
      headers: AuthHeaders,
      responses: { 200: InfoResponse, ...errorResponses('unauthorized', 'forbidden', 'rate_limited') },
      summary: 'Node id, version, uptime and counters',
      metadata: apiKey('info'),
    },
    health: {
      method: 'GET',
      path: '/health',
      // 405 for another method (any route answers it): documented so a client knows the body.
      responses: { 200: HealthResponse, ...errorResponses('method_not_allowed') },
      summary: 'Liveness: the process answers (no key: for load balancers and Kubernetes liveness probes)',
      metadata: open,
    },
    ready: {
      method: 'GET',
      path: '/ready',
      responses: { 200: ReadyResponse, ...errorResponses('method_not_allowed', 'unavailable') },
      summary: 'Readiness: 503 unavailable while the node drains or its broker is disconnected (no key: for load balancers and readiness probes)',
      metadata: open,
    },
    metrics: {
      method: 'GET',
      path: '/metrics',
      headers: AuthHeaders,
      responses: {
        // The Prometheus text exposition format, not JSON: scrapers read it as is (docs/metrics.md).
        200: c.otherResponse({ contentType: 'text/plain; version=0.0.4', body: z.string().describe('Prometheus text exposition format: every metric is listed in docs/metrics.md') }),
        ...errorResponses('unauthorized', 'forbidden', 'not_found', 'rate_limited'),
      },
      summary: 'Prometheus metrics of this node (an API key with the `metrics` operation; not_found when metrics are off)',
      metadata: apiKey('metrics'),
    },
    sse: {
      method: 'GET',
      path: '/sse',
      headers: z.object({
        'last-event-id': z.string().optional().describe('Set by EventSource on reconnect; takes precedence over cursor'),
      }),
      query: RealtimeQuery,
      responses: {
        200: c.otherResponse({ contentType: 'text/event-stream', body: z.string().describe(`Events: ${Object.values(SSE_EVENTS).join(', ')}`) }),
        ...errorResponses('bad_request', 'invalid_channel', 'invalid_cursor', 'too_many_channels', 'token_invalid', 'token_expired', 'forbidden', 'rate_limited', 'unavailable'),
      },
      summary: 'Server-Sent Events stream of several channels',
      metadata: connection,
    },
    poll: {
      method: 'GET',
      path: '/poll',
      query: PollQuery,
      responses: {
        200: PollResponse,
        ...errorResponses('bad_request', 'invalid_channel', 'invalid_cursor', 'too_many_channels', 'token_invalid', 'token_expired', 'forbidden', 'rate_limited', 'unavailable'),
      },
      summary: 'Long-poll: returns at once when something is newer than the cursor, else waits',
      metadata: connection,
    },
    websocket: {
      method: 'GET',
      path: '/ws',
      responses: {
        426: ErrorBody,
      },
      summary: 'WebSocket endpoint (send an Upgrade request); frames are described in the protocol guide (/docs/protocol.md) and the AsyncAPI document (/asyncapi.json)',
      metadata: connection,
    },
    clientPublish: {
      method: 'POST',
      path: '/publish',
      headers: ClientAuthHeaders,
      query: z.object({ token: z.string().optional().describe('Connection token, when no header can be sent; never logged') }),
      body: PublishRequest,
      responses: {
        200: PublishResult,
        ...errorResponses('bad_request', 'token_invalid', 'token_expired', 'forbidden', 'payload_too_large', 'rate_limited', 'unavailable'),
      },
      summary: 'Publish from a client with its connection token, where the namespace allows client publishes',
      metadata: connection,
    },
    userDisconnect: {
      method: 'POST',
      path: '/api/users/:user/disconnect',
      headers: AuthHeaders,
      pathParams: z.object({ user: z.string().min(1).max(255) }),
      body: c.noBody(),
      responses: { 200: UserCommandResult, ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable') },
      summary: 'Disconnect every connection of a user, on every node (terminal: the client does not reconnect)',
      metadata: apiKey('users'),
    },
    userSubscribe: {
      method: 'POST',
      path: '/api/users/:user/subscribe',
      headers: AuthHeaders,
      pathParams: z.object({ user: z.string().min(1).max(255) }),
      body: UserChannelRequest,
      responses: { 200: UserCommandResult, ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable') },
      summary: "Subscribe a user's live WebSocket connections to a channel, on every node (an SSE stream keeps the channels of its request)",
      metadata: apiKey('users'),
    },
    userUnsubscribe: {
      method: 'POST',
      path: '/api/users/:user/unsubscribe',
      headers: AuthHeaders,
      pathParams: z.object({ user: z.string().min(1).max(255) }),
      body: UserChannelRequest,
      responses: { 200: UserCommandResult, ...errorResponses('bad_request', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable') },
      summary: "Unsubscribe a user's live WebSocket connections from a channel, on every node (an SSE stream keeps the channels of its request)",
      metadata: apiKey('users'),
    },
    devToken: {
      method: 'POST',
      path: '/dev/token',
      body: DevTokenRequest,
      responses: { 200: DevTokenResponse, ...errorResponses('bad_request', 'not_found') },
      summary: 'Development only: a connection token for any user (on only without a token key and without a config file)',
      metadata: open,
    },
  },
  { strictStatusCodes: true },
);

export type Api = typeof api;
