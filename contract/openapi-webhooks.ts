// The requests Hubbub makes to the app's backend (docs/webhooks.md), for the OpenAPI document.
// OpenAPI 3.0 has no top-level `webhooks` (3.1 has): they are listed under `x-webhooks`, the
// extension Redoc renders, and their bodies are component schemas like every other.
import type { z } from 'zod';
import { REF, schemaOf, type Json } from './openapi-schemas.js';
import * as webhooks from './webhooks.js';
import { DELIVERY_HEADER, PublishProxyRequest, PublishProxyResponse, SIGNATURE_HEADER, WebhookDelivery, WebhookEvent } from './webhooks.js';

function nameOf(schema: z.ZodTypeAny): string {
  const found = Object.entries(webhooks).find(([, value]) => value === schema);
  if (!found) throw new Error('every webhook event schema must be exported by contract/webhooks.ts, to name its component');
  return found[0];
}

export function webhookSchemas(): Record<string, Json> {
  const schemas: Record<string, Json> = {};
  const mapping: Record<string, string> = {};
  for (const [type, option] of WebhookEvent.optionsMap) {
    const name = nameOf(option);
    schemas[name] = schemaOf(option);
    mapping[String(type)] = `#/components/schemas/${name}`;
  }
  schemas['WebhookEvent'] = {
    description: 'One asynchronous event; `type` says which',
    type: 'object',
    oneOf: Object.values(mapping).map(($ref) => ({ $ref })),
    discriminator: { propertyName: 'type', mapping },
  };
  const delivery = schemaOf(WebhookDelivery) as { properties: Record<string, Json> };
  delivery.properties['events'] = { ...delivery.properties['events'], items: REF('WebhookEvent') };
  schemas['WebhookDelivery'] = delivery;
  schemas['PublishProxyRequest'] = schemaOf(PublishProxyRequest);
  schemas['PublishProxyResponse'] = schemaOf(PublishProxyResponse);
  return schemas;
}

/** The security scheme of both requests: the signature header, present when webhooks.secret is set. */
export const WEBHOOK_SIGNATURE = 'webhookSignature';
export const WEBHOOK_SIGNATURE_SCHEME: Json = {
  type: 'apiKey',
  in: 'header',
  name: SIGNATURE_HEADER,
  description: 'With webhooks.secret set: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>`; verify it (docs/webhooks.md)',
};

function post(operationId: string, summary: string, body: string, responses: Json, parameters: Json[]): Json {
  return {
    post: {
      operationId,
      summary,
      tags: ['Webhooks'],
      parameters,
      security: [{ [WEBHOOK_SIGNATURE]: [] }, {}],
      requestBody: { required: true, content: { 'application/json': { schema: REF(body) } } },
      responses,
    },
  };
}

/** The `x-webhooks` object: your backend implements these, Hubbub calls them. */
export function webhookOperations(): Json {
  return {
    events: post(
      'webhookEvents',
      'Asynchronous events, batched, to webhooks.url (at least once: deduplicate on the event or delivery id)',
      'WebhookDelivery',
      { '200': { description: 'Any 2xx acknowledges the whole batch; anything else, or no answer in time, is retried with backoff' } },
      [{ name: DELIVERY_HEADER, in: 'header', required: true, description: 'The delivery id, the same on every retry', schema: { type: 'string' } }],
    ),
    publishProxy: post(
      'publishProxy',
      "Before a client publication of a namespace with publishProxy is stored: accept, rewrite or reject it",
      'PublishProxyRequest',
      {
        '200': { description: 'Accept, rewrite or reject', content: { 'application/json': { schema: REF('PublishProxyResponse') } } },
        '400': { description: 'Any 4xx rejects the publication (publish_rejected)' },
      },
      [],
    ),
  };
}
