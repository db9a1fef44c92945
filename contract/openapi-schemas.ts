// The component schemas of the OpenAPI document, converted from the contract's zod schemas, and the
// repairs ts-rest's converter needs before the result is valid OpenAPI 3.0.
import { initContract } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';
import type { z } from 'zod';
import { ErrorBody } from './errors.js';
import * as frames from './frames.js';
import { ClientFrame, SSE_EVENTS, SseConnectedEvent, SseDisconnectEvent, SsePingEvent, SseSubscribedEvent, ServerFrame } from './frames.js';
import { Publication } from './publication.js';

export type Json = Record<string, unknown>;

export const REF = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/**
 * JSON schema of a zod type, as ts-rest renders it. Going through generateOpenApi keeps this file on
 * ts-rest's public API (its zod converter is a private dependency) and makes component schemas
 * identical to the inline ones it emits for routes.
 */
export function schemaOf(schema: z.ZodTypeAny): Json {
  const router = initContract().router({ s: { method: 'POST', path: '/', body: schema, responses: { 200: schema } } });
  const doc = generateOpenApi(router, { info: { title: '', version: '' } });
  const op = doc.paths['/']?.post as { responses: Record<string, { content: Record<string, { schema: Json }> }> };
  return op.responses['200']!.content['application/json']!.schema;
}

export type SseEventName = (typeof SSE_EVENTS)[keyof typeof SSE_EVENTS];

/**
 * Each SSE event: the component of its `data:` line, and whether it has an `id:` line (the cursor;
 * server/transports/sse.ts writes one on subscribed and publication only). `satisfies` keeps it complete.
 */
export const SSE_EVENT_DATA = {
  [SSE_EVENTS.connected]: { name: 'SseConnectedEvent', schema: SseConnectedEvent, cursor: false },
  [SSE_EVENTS.subscribed]: { name: 'SseSubscribedEvent', schema: SseSubscribedEvent, cursor: true },
  [SSE_EVENTS.publication]: { name: 'Publication', schema: Publication, cursor: true },
  [SSE_EVENTS.ping]: { name: 'SsePingEvent', schema: SsePingEvent, cursor: false },
  [SSE_EVENTS.disconnect]: { name: 'SseDisconnectEvent', schema: SseDisconnectEvent, cursor: false },
} satisfies Record<SseEventName, { name: string; schema: z.ZodTypeAny; cursor: boolean }>;

/** The 200 response of /sse is a stream of these; OpenAPI 3.0 has no construct for a sequence of events. */
function sseEvent(): Json {
  return {
    description:
      'One event of the `/sse` stream. The stream is `text/event-stream`, not JSON: each event is its fields as lines, ' +
      '`event:` its name, `data:` one line of JSON, `id:` (on subscribed and publication only) the cursor after it, ' +
      'which EventSource sends back as Last-Event-ID.',
    oneOf: Object.entries(SSE_EVENT_DATA).map(([event, { name, cursor }]) => ({
      type: 'object',
      required: cursor ? ['event', 'id', 'data'] : ['event', 'data'],
      properties: {
        event: { type: 'string', enum: [event] },
        ...(cursor ? { id: { type: 'string', description: 'The cursor after this event' } } : {}),
        data: REF(name),
      },
      additionalProperties: false,
    })),
  };
}

/** The exported name of a schema of contract/frames.ts, so components are named as the contract names them. */
export function frameName(schema: z.ZodTypeAny): string {
  const found = Object.entries(frames).find(([, value]) => value === schema);
  if (!found) throw new Error('every member of a frame union must be exported by contract/frames.ts, to name its component');
  return found[0];
}

interface DiscriminatedUnion {
  discriminator: string;
  optionsMap: Map<unknown, z.ZodTypeAny>;
}

/**
 * A discriminated union as OpenAPI 3.0 wants it: a discriminator can only select `$ref`s, so every
 * member becomes a named component and the union a `oneOf` of them with the discriminator's mapping.
 */
function addUnion(schemas: Record<string, Json>, name: string, union: z.ZodTypeAny & DiscriminatedUnion, description: string): void {
  const mapping: Record<string, string> = {};
  for (const [value, option] of union.optionsMap) {
    const member = frameName(option);
    schemas[member] = schemaOf(option);
    mapping[String(value)] = `#/components/schemas/${member}`;
  }
  schemas[name] = {
    description,
    type: 'object',
    oneOf: Object.values(mapping).map(($ref) => ({ $ref })),
    discriminator: { propertyName: union.discriminator, mapping },
  };
}

/** Every component schema; each is referenced from a response (no component is unused). */
export function componentSchemas(): Record<string, Json> {
  const schemas: Record<string, Json> = { Error: schemaOf(ErrorBody) };
  addUnion(schemas, 'ClientFrame', ClientFrame, 'A WebSocket text frame the client sends: a command with an id of its choice');
  addUnion(schemas, 'ServerFrame', ServerFrame, 'A WebSocket text frame the server sends: replies carry the id of their command');
  schemas['WebSocketFrame'] = {
    description: 'Every WebSocket text frame of `/ws` is one JSON object, a ClientFrame or a ServerFrame (their `type`s differ)',
    oneOf: [REF('ClientFrame'), REF('ServerFrame')],
  };
  for (const { name, schema } of Object.values(SSE_EVENT_DATA)) schemas[name] = schemaOf(schema);
  schemas['SseEvent'] = sseEvent();
  return schemas;
}

const COMPOSED = ['$ref', 'allOf', 'oneOf', 'anyOf', 'not', 'enum'];

/**
 * ts-rest renders a schema that accepts anything (JsonData, a z.custom) as `{ nullable: true }`.
 * OpenAPI 3.0 ignores `nullable` without `type` and validators refuse it; a schema without `type`
 * already accepts every JSON value, null included, so the keyword goes. A constrained schema
 * (composed, enum) cannot be repaired that way: the contract must give it a type.
 */
export function dropUntypedNullable(node: unknown, at = '#'): void {
  if (Array.isArray(node)) return node.forEach((n, i) => dropUntypedNullable(n, `${at}/${i}`));
  if (node === null || typeof node !== 'object') return;
  const schema = node as Json;
  if (schema['nullable'] === true && !('type' in schema)) {
    const composed = COMPOSED.filter((k) => k in schema);
    if (composed.length > 0) throw new Error(`${at}: nullable without type next to ${composed.join(', ')} cannot be expressed in OpenAPI 3.0`);
    delete schema['nullable'];
  }
  for (const [key, value] of Object.entries(schema)) dropUntypedNullable(value, `${at}/${key}`);
}
