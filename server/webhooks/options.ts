import { z } from 'zod';
import { CHANNEL_EVENTS, CONNECTION_EVENTS } from '../../contract/index.js';

// The config file's webhook options (docs/webhooks.md). One endpoint per node receives the
// asynchronous events: connection events are chosen here, at the top level, because a connection
// belongs to no namespace; channel events are chosen per namespace (NamespaceOptions.webhooks). The
// publish proxy is per namespace too: each namespace may have its own backend deciding its messages.

const HttpUrl = z.string().url().regex(/^https?:\/\//, 'an http(s) URL');

export const WebhooksConfig = z
  .object({
    url: HttpUrl.optional().describe('Where asynchronous events are POSTed (batched); needed by any namespace with webhook events'),
    secret: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe('Signs every webhook and publish proxy request (Hubbub-Signature header, HMAC-SHA256); unset = unsigned'),
    events: z.array(z.enum(CONNECTION_EVENTS)).default([]).describe('Connection events to send: connect, disconnect (of identified users)'),
    queueSize: z.number().int().min(1).max(1_000_000).default(10_000).describe('Events waiting for delivery on one node; past it the oldest is dropped (counted)'),
    batchSize: z.number().int().min(1).max(1000).default(100).describe('Most events in one request'),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000).describe('Per request; no answer in time is a failed attempt'),
    maxAttempts: z.number().int().min(1).max(10_000).default(10).describe('Attempts per batch before it is abandoned (counted, logged)'),
    retryMinMs: z.number().int().min(1).max(600_000).default(1000).describe('Delay before the first retry; doubles each time, with jitter'),
    retryMaxMs: z.number().int().min(1).max(3_600_000).default(60_000).describe('Longest delay between retries'),
  })
  .strict()
  .describe('The endpoint of asynchronous events and the connection events it receives (docs/webhooks.md)');
export type WebhooksConfig = z.output<typeof WebhooksConfig>;

export const PublishProxyOptions = z
  .object({
    url: HttpUrl.describe('Asked before each client publication of the namespace is stored'),
    timeoutMs: z.number().int().min(10).max(30_000).default(2000).describe('No answer in time: the client gets webhook_unavailable, nothing is published'),
  })
  .strict()
  .describe('A synchronous check of client publications by the backend: accept, rewrite or reject (docs/webhooks.md)');
export type PublishProxyOptions = z.output<typeof PublishProxyOptions>;

export const ChannelWebhookEvents = z.array(z.enum(CHANNEL_EVENTS)).describe('Channel events sent to webhooks.url: occupied, vacated, publish (client publications)');
