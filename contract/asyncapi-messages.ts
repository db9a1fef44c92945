// The messages and schemas of the AsyncAPI document: every WebSocket frame, SSE event and long-poll
// answer of the contract, converted by the same ts-rest machinery as the OpenAPI components.
import type { AppRoute } from '@ts-rest/core';
import type { z } from 'zod';
import { ERROR_TABLE, ErrorBody, type ErrorCode } from './errors.js';
import { ClientFrame, PollResponse, ServerFrame } from './frames.js';
import { SSE_EVENT_DATA, dropUntypedNullable, frameName, schemaOf, type Json } from './openapi-schemas.js';

export const SCHEMA_REF = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const MESSAGE_REF = (name: string): Json => ({ $ref: `#/components/messages/${name}` });

/**
 * ts-rest writes OpenAPI 3.0 schemas; AsyncAPI's default schema format is JSON Schema draft 07,
 * which has no `nullable`: a nullable type becomes a type list with "null". An untyped nullable
 * already accepts null and just loses the keyword (as in the OpenAPI document).
 */
export function jsonSchemaOf(schema: z.ZodTypeAny): Json {
  const converted = schemaOf(schema);
  dropUntypedNullable(converted);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const n = node as Json;
    if (n['nullable'] === true && typeof n['type'] === 'string') {
      n['type'] = [n['type'], 'null'];
      delete n['nullable'];
    }
    Object.values(n).forEach(walk);
  };
  walk(converted);
  return converted;
}

interface DiscriminatedUnion {
  discriminator: string;
  optionsMap: Map<unknown, z.ZodTypeAny>;
}

/** A frame union's members: each named as contract/frames.ts exports it, with its `type` value. */
function members(union: DiscriminatedUnion): Array<{ name: string; type: string; schema: z.ZodTypeAny }> {
  return [...union.optionsMap].map(([type, schema]) => ({ name: frameName(schema), type: String(type), schema }));
}

export const CLIENT_FRAMES = members(ClientFrame);
export const SERVER_FRAMES = members(ServerFrame);

/** A reply frame carries the id of the command it answers: the frames whose shape has an `id`. */
export const REPLY_FRAMES = SERVER_FRAMES.filter(({ schema }) => 'id' in (schema as z.AnyZodObject).shape);

/** Message key of an SSE event, and of the HTTP answers of /sse and /poll. */
export const sseMessage = (event: string): string => `sse.${event}`;
export const SSE_REFUSED = 'sse.errorResponse';
export const POLL_RESPONSE = 'poll.response';
export const POLL_REFUSED = 'poll.errorResponse';

const JSON_TYPE = 'application/json';

/** The error codes a route may answer: those whose status the route declares with an ErrorBody. */
export function routeErrorCodes(route: AppRoute): ErrorCode[] {
  const statuses = Object.entries(route.responses)
    .filter(([, body]) => body === ErrorBody)
    .map(([status]) => Number(status));
  return (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((code) => statuses.includes(ERROR_TABLE[code].status));
}

/** The HTTP error answer of a request that opens no stream; `code` narrowed to the route's codes. */
function errorMessage(route: AppRoute): Json {
  const codes = routeErrorCodes(route);
  const list = codes.map((code) => `- \`${code}\` (${ERROR_TABLE[code].status}): ${ERROR_TABLE[code].message}`).join('\n');
  return {
    name: 'errorResponse',
    title: `${route.path} refused`,
    summary: 'The HTTP error response when the request is refused; no stream or poll answer follows',
    description: `An HTTP response with status 4xx or 5xx and this JSON body; \`code\` is one of:\n${list}`,
    contentType: JSON_TYPE,
    payload: { allOf: [SCHEMA_REF('Error'), { type: 'object', properties: { code: { type: 'string', enum: codes } } }] },
  };
}

function sseMessageOf(event: string, { name, cursor }: { name: string; cursor: boolean }): Json {
  return {
    name: event,
    title: `${event} event`,
    summary: cursor
      ? `SSE event \`${event}\`: its id line is the cursor after it`
      : `SSE event \`${event}\`: no id line, so it never moves the cursor (Last-Event-ID)`,
    contentType: JSON_TYPE,
    // The event's fields besides data; the payload is its `data:` line.
    headers: {
      type: 'object',
      description: 'The SSE fields of the event besides `data:` (the payload, one line of JSON)',
      required: cursor ? ['event', 'id'] : ['event'],
      properties: {
        event: { type: 'string', const: event, description: 'The `event:` line' },
        ...(cursor ? { id: { type: 'string', description: 'The `id:` line: the cursor after this event, sent back as Last-Event-ID' } } : {}),
      },
      additionalProperties: false,
    },
    payload: SCHEMA_REF(name),
  };
}

function frameMessage({ name, type }: { name: string; type: string }, from: 'client' | 'server'): Json {
  return {
    name: type,
    title: `${type} frame`,
    summary: `A JSON text frame with type \`${type}\`, sent by the ${from}`,
    contentType: JSON_TYPE,
    payload: SCHEMA_REF(name),
  };
}

/** components.schemas: every payload, each converted once from its zod schema. */
export function asyncApiSchemas(): Record<string, Json> {
  const schemas: Record<string, Json> = { Error: jsonSchemaOf(ErrorBody) };
  for (const { name, schema } of [...CLIENT_FRAMES, ...SERVER_FRAMES]) schemas[name] = jsonSchemaOf(schema);
  for (const { name, schema } of Object.values(SSE_EVENT_DATA)) schemas[name] = jsonSchemaOf(schema);
  schemas['PollResponse'] = jsonSchemaOf(PollResponse);
  return schemas;
}

/** components.messages, keyed by the names the channels use. */
export function asyncApiMessages(sse: AppRoute, poll: AppRoute): Record<string, Json> {
  const messages: Record<string, Json> = {};
  for (const frame of CLIENT_FRAMES) messages[frame.name] = frameMessage(frame, 'client');
  for (const frame of SERVER_FRAMES) messages[frame.name] = frameMessage(frame, 'server');
  for (const [event, data] of Object.entries(SSE_EVENT_DATA)) messages[sseMessage(event)] = sseMessageOf(event, data);
  messages[SSE_REFUSED] = errorMessage(sse);
  messages[POLL_RESPONSE] = {
    name: 'pollResponse',
    title: 'poll response',
    summary: 'The 200 answer of a poll: the publications after the cursor, and the cursor to send next',
    contentType: JSON_TYPE,
    payload: SCHEMA_REF('PollResponse'),
  };
  messages[POLL_REFUSED] = errorMessage(poll);
  return messages;
}
