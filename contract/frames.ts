import { z } from 'zod';
import { ChannelName } from './channel.js';
import { DISCONNECT_TABLE } from './disconnect.js';
import { ErrorBody } from './errors.js';
import { StreamPosition } from './position.js';
import { EventName, JsonData, Publication, SubscribeResult, Tags } from './publication.js';
import { Token } from './tokens.js';

/* ---------- WebSocket at /ws: JSON text frames ---------- */

/** Command ids are chosen by the client and echoed in the reply, so replies can be matched. */
export const CommandId = z.number().int().min(1).max(2 ** 31 - 1);

export const SubscribeCommand = z
  .object({
    id: CommandId,
    type: z.literal('subscribe'),
    channel: ChannelName,
    since: StreamPosition.optional().describe('Recover every publication after this position'),
    token: Token.optional().describe('A subscription token for this channel, when its namespace requires one'),
  })
  .strict();
export const UnsubscribeCommand = z.object({ id: CommandId, type: z.literal('unsubscribe'), channel: ChannelName }).strict();
export const PingCommand = z.object({ id: CommandId, type: z.literal('ping') }).strict();
/** First frame only: authenticates the connection. Without it (or without a token) the connection is anonymous. */
export const ConnectCommand = z
  .object({
    id: CommandId,
    type: z.literal('connect'),
    token: Token.optional(),
    positions: z
      .record(ChannelName, StreamPosition)
      .refine((p) => Object.keys(p).length <= 128, { message: 'at most 128 positions' })
      .optional()
      .describe("Where the client left the channels the token subscribes it to (its `channels` claim), so they recover too"),
  })
  .strict();
/**
 * Swaps a token before it expires: the connection token, or with `channel` the subscription token
 * of that channel. The new token must name the same user.
 */
export const RefreshCommand = z.object({ id: CommandId, type: z.literal('refresh'), token: Token, channel: ChannelName.optional() }).strict();
/** Client publish, where the channel's namespace allows it; the server stamps the publisher from the token. */
export const PublishCommand = z
  .object({
    id: CommandId,
    type: z.literal('publish'),
    channel: ChannelName,
    data: JsonData,
    event: EventName.optional(),
    tags: Tags.optional(),
    idempotencyKey: z.string().min(1).max(128).optional(),
  })
  .strict();

export const ClientFrame = z.discriminatedUnion('type', [
  ConnectCommand,
  SubscribeCommand,
  UnsubscribeCommand,
  PingCommand,
  RefreshCommand,
  PublishCommand,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** Sent when the socket opens (no id), and again in reply to `connect` (with its id and the user). */
export const ConnectedFrame = z.object({
  type: z.literal('connected'),
  id: CommandId.optional().describe('The id of the connect command this answers; absent on the greeting'),
  client: z.string().describe('Connection id, unique in the cluster'),
  node: z.string(),
  version: z.string(),
  pingInterval: z.number().int().describe('ms between server pings; the connection is stale after two missed'),
  user: z.string().nullable().optional().describe('The authenticated user id; null when anonymous'),
  expires: z.number().int().optional().describe('When the connection token expires, ms since the Unix epoch'),
  channels: z.array(ChannelName).optional().describe('In reply to connect: the channels the server subscribes the connection to (the token\'s)'),
});
const ServerSideId = CommandId.optional().describe(
  'The id of the command this answers; absent when the server subscribed or unsubscribed the connection itself (channels of the token, the server API)',
);
export const SubscribedFrame = SubscribeResult.extend({ id: ServerSideId, type: z.literal('subscribed') });
export const UnsubscribedFrame = z.object({ id: ServerSideId, type: z.literal('unsubscribed'), channel: ChannelName });
export const PongFrame = z.object({ id: CommandId, type: z.literal('pong') });
export const RefreshedFrame = z.object({
  id: CommandId,
  type: z.literal('refreshed'),
  expires: z.number().int().optional().describe('When the new token expires, ms since the Unix epoch'),
});
export const PublishedFrame = StreamPosition.extend({ id: CommandId, type: z.literal('published'), channel: ChannelName });
export const ErrorFrame = ErrorBody.extend({
  type: z.literal('error'),
  id: CommandId.optional().describe('The id of the command that failed, when it could be read'),
});
export const PublicationFrame = Publication.extend({ type: z.literal('publication') });

export const ServerFrame = z.discriminatedUnion('type', [
  ConnectedFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  PongFrame,
  RefreshedFrame,
  PublishedFrame,
  ErrorFrame,
  PublicationFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/* ---------- SSE at /sse and long-poll at /poll ---------- */

export const MAX_CHANNELS_DEFAULT = 128;

/** `channels` is a comma-separated list; `cursor` has one `<epoch>:<offset>` entry per channel (see position.ts). */
export const RealtimeQuery = z.object({
  channels: z
    .string()
    .optional()
    .describe('Comma-separated channel names, e.g. chat:lobby,news; may be left out when the connection token lists channels'),
  token: Token.optional().describe('Connection token, for clients that cannot send headers (EventSource); never logged'),
  tokens: z
    .string()
    .optional()
    .describe('Subscription tokens, one per channel in the order of channels, comma-separated; empty where a channel needs none'),
  cursor: z.string().optional().describe('One <epoch>:<offset> per channel, comma-separated; empty entries mean "from now"'),
});

export { SSE_EVENTS } from './sse-events.js';

/** First event of every stream: the WebSocket `connected` greeting without `type` (and no command id). */
export const SseConnectedEvent = ConnectedFrame.omit({ type: true, id: true, channels: true });
export type SseConnectedEvent = z.infer<typeof SseConnectedEvent>;
/** One `subscribed` event per channel, before that channel's first publication. */
export const SseSubscribedEvent = SubscribeResult;
/**
 * Every `pingInterval` ms: an event, not a comment, because EventSource hides comments and the
 * client must see the stream alive to tell a silent stream from a dead one.
 */
export const SsePingEvent = z.object({}).strict();
export const DisconnectCode = z.enum(
  Object.keys(DISCONNECT_TABLE) as [keyof typeof DISCONNECT_TABLE, ...Array<keyof typeof DISCONNECT_TABLE>],
);
export const SseDisconnectEvent = z.object({ code: z.number().int(), name: DisconnectCode, reason: z.string(), reconnect: z.boolean() });

export const PollQuery = RealtimeQuery.extend({
  timeout: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .optional()
    .describe('ms to wait when nothing is newer than the cursor; capped by the server setting'),
});

export const PollResponse = z.object({
  cursor: z.string().describe('Send it back with the next poll'),
  subscriptions: z
    .array(SubscribeResult)
    .describe('One entry per channel: where the publications of this response start, and whether they continue the cursor'),
  publications: z.array(Publication).describe('In order per channel'),
});
export type PollResponse = z.infer<typeof PollResponse>;
