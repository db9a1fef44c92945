import { z } from 'zod';
import { ChannelName } from './channel.js';
import { EventName, JsonData, Publication, Tags } from './publication.js';

// What Hubbub POSTs to the app's backend (docs/webhooks.md): batches of asynchronous events, and the
// synchronous publish proxy's request and its answer. Receivers can validate bodies with these
// schemas; the OpenAPI document lists them under components (x-webhooks).

/** Events about one connection, configured once for the node (top-level `webhooks.events`). */
export const CONNECTION_EVENTS = ['connect', 'disconnect'] as const;
/** Events about one channel, configured per namespace (`webhooks:` of a namespace or of `defaults`). */
export const CHANNEL_EVENTS = ['occupied', 'vacated', 'publish'] as const;
export const WEBHOOK_EVENTS = [...CONNECTION_EVENTS, ...CHANNEL_EVENTS] as const;
export type ConnectionEventName = (typeof CONNECTION_EVENTS)[number];
export type ChannelEventName = (typeof CHANNEL_EVENTS)[number];
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** The header with the HMAC-SHA256 signature: `t=<unix seconds>,v1=<hex of HMAC(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'Hubbub-Signature';
/** The header with the delivery id: the same on every retry of one request, for deduplication. */
export const DELIVERY_HEADER = 'Hubbub-Delivery';

const EventBase = {
  id: z.string().describe('Unique per event; a retried delivery repeats it (deduplicate on it)'),
  time: z.number().int().describe('When it happened on the node, ms since the Unix epoch'),
  node: z.string().describe('The node it happened on'),
};

const ConnectionBase = {
  ...EventBase,
  client: z.string().describe('The connection id (also in the publisher of its publications)'),
  user: z.string().describe('The user id, the `sub` of the connection token (anonymous connections cause no event)'),
  transport: z.string().describe('websocket or sse'),
};

export const ConnectWebhookEvent = z
  .object({ type: z.literal('connect'), ...ConnectionBase, info: JsonData.optional().describe('The info claim of the connection token') })
  .describe('An identified user connected (a WebSocket or an SSE stream; long-polls are requests, not connections)');

export const DisconnectWebhookEvent = z
  .object({
    type: z.literal('disconnect'),
    ...ConnectionBase,
    by: z.enum(['server', 'client']).describe('Who ended the connection'),
    code: z.number().int().optional().describe('The disconnect code (by server) or the client close code'),
    reason: z.string().optional().describe('The disconnect name (by server) or the client close reason'),
    durationMs: z.number().int().describe('How long the connection lasted'),
  })
  .describe('A connection that caused a connect event ended');

export const OccupiedWebhookEvent = z
  .object({ type: z.literal('occupied'), ...EventBase, channel: ChannelName })
  .describe('The channel got its first subscriber on this node (per node: see docs/webhooks.md for cluster-wide occupancy)');

export const VacatedWebhookEvent = z
  .object({ type: z.literal('vacated'), ...EventBase, channel: ChannelName })
  .describe('The node stopped following the channel: its last subscriber there left and the linger (2 s) passed');

export const PublishWebhookEvent = z
  .object({ type: z.literal('publish'), ...EventBase, channel: ChannelName, publication: Publication })
  .describe('A client published to the channel (backend publishes cause no event); sent after it was stored');

export const WebhookEvent = z.discriminatedUnion('type', [ConnectWebhookEvent, DisconnectWebhookEvent, OccupiedWebhookEvent, VacatedWebhookEvent, PublishWebhookEvent]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const WebhookDelivery = z
  .object({
    id: z.string().describe('The delivery id, also in the Hubbub-Delivery header; the same on every retry'),
    node: z.string(),
    events: z.array(WebhookEvent).min(1).describe('In the order they happened on the node'),
  })
  .describe('The body of every asynchronous webhook request; answer 2xx to acknowledge the whole batch');
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const PublishProxyRequest = z
  .object({
    channel: ChannelName,
    event: EventName.optional().describe('The publication\'s event name, when the client gave one'),
    data: JsonData,
    tags: Tags.optional(),
    user: z.string().describe('The user id from the connection token ("" for an anonymous client)'),
    client: z.string(),
    transport: z.string().describe('websocket (a publish command) or http (POST /publish)'),
    info: JsonData.optional().describe('The info claim of the connection token'),
    node: z.string(),
  })
  .describe('What the publish proxy sends before a client publication is stored');
export type PublishProxyRequest = z.infer<typeof PublishProxyRequest>;

export const PublishProxyResponse = z
  .union([
    z.object({ result: z.object({ data: JsonData.optional().describe('Replaces the data; absent: publish as sent') }) }),
    z.object({
      error: z.object({
        code: z.number().int().optional().describe("Your own code, for your logs: Hubbub does not send it to the client"),
        message: z.string().max(500).optional().describe('Sent to the client in the publish_rejected error'),
      }),
    }),
  ])
  .describe('The answer of the publish proxy: accept ({"result":{}}), rewrite ({"result":{"data":…}}) or reject ({"error":{…}} or any 4xx)');
export type PublishProxyResponse = z.infer<typeof PublishProxyResponse>;
