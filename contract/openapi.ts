import { initContract, isAppRouteOtherResponse, type AppRoute, type AppRouteResponse } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';
import type { z } from 'zod';
import { api } from './api.js';
import { DISCONNECT_TABLE } from './disconnect.js';
import { ERROR_TABLE, ErrorBody, type ErrorCode } from './errors.js';
import { ClientFrame, SSE_EVENTS, SseConnectedEvent, SseDisconnectEvent, SsePingEvent, SseSubscribedEvent, ServerFrame } from './frames.js';
import { PROTOCOL_VERSION } from './index.js';
import { Publication } from './publication.js';

/** The API version published in the OpenAPI document; test/openapi.test.ts keeps it equal to package.json. */
export const API_VERSION = '0.1.0';

/** Security scheme name used by every /api route. */
export const BEARER = 'bearer';

type Json = Record<string, unknown>;
type OperationMapper = NonNullable<NonNullable<Parameters<typeof generateOpenApi>[2]>['operationMapper']>;
type Operation = Parameters<OperationMapper>[0];

const REF = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** The event name of each SSE event and the schema of its `data:` line; `satisfies` keeps it complete. */
const SSE_EVENT_SCHEMAS = {
  [SSE_EVENTS.connected]: { name: 'SseConnectedEvent', schema: SseConnectedEvent },
  [SSE_EVENTS.subscribed]: { name: 'SseSubscribedEvent', schema: SseSubscribedEvent },
  [SSE_EVENTS.publication]: { name: 'Publication', schema: Publication },
  [SSE_EVENTS.ping]: { name: 'SsePingEvent', schema: SsePingEvent },
  [SSE_EVENTS.disconnect]: { name: 'SseDisconnectEvent', schema: SseDisconnectEvent },
} satisfies Record<(typeof SSE_EVENTS)[keyof typeof SSE_EVENTS], { name: string; schema: z.ZodTypeAny }>;

/**
 * JSON schema of a zod type, as ts-rest renders it. Going through generateOpenApi keeps this file on
 * ts-rest's public API (its zod converter is a private dependency) and makes component schemas
 * identical to the inline ones it emits for routes.
 */
function schemaOf(schema: z.ZodTypeAny): Json {
  const router = initContract().router({ s: { method: 'POST', path: '/', body: schema, responses: { 200: schema } } });
  const doc = generateOpenApi(router, { info: { title: '', version: '' } });
  const op = doc.paths['/']?.post as { responses: Record<string, { content: Record<string, { schema: Json }> }> };
  return op.responses['200']!.content['application/json']!.schema;
}

/** `<` and `|` would be read as HTML or as a column break by Markdown renderers. */
function escapeCell(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
}

export function errorTableMarkdown(): string {
  const rows = (Object.entries(ERROR_TABLE) as Array<[ErrorCode, (typeof ERROR_TABLE)[ErrorCode]]>).map(
    ([code, row]) => `| \`${code}\` | ${row.status} | ${row.retryable ? 'yes' : 'no'} | ${escapeCell(row.message)} |`,
  );
  return ['| code | HTTP status | retryable | message |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function disconnectTableMarkdown(): string {
  const rows = Object.entries(DISCONNECT_TABLE).map(
    ([name, row]) => `| \`${name}\` | ${row.code} | ${row.reconnect ? 'yes' : 'no'} | ${escapeCell(row.reason)} |`,
  );
  return ['| name | close code | reconnect | reason |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function codesWithStatus(status: number): ErrorCode[] {
  return (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((code) => ERROR_TABLE[code].status === status);
}

/**
 * The contract only says "this route may answer 400 with an ErrorBody"; the error table says which codes
 * carry status 400, so the response narrows `code` to those and lists them.
 */
function errorResponse(status: number): Json {
  const codes = codesWithStatus(status);
  const list = codes.map((code) => `- \`${code}\`: ${ERROR_TABLE[code].message}`).join('\n');
  return {
    description: `Error; \`code\` is one of:\n${list}`,
    content: {
      'application/json': {
        schema: { allOf: [REF('Error'), { type: 'object', properties: { code: { type: 'string', enum: codes } } }] },
      },
    },
  };
}

function mapOperation(operation: Operation, route: AppRoute): Operation {
  const isApi = route.path.startsWith('/api/');
  const parameters = (operation.parameters ?? []).filter(
    // OpenAPI ignores an Authorization header parameter; the security scheme describes it.
    (p) => !(isApi && 'in' in p && p.in === 'header' && p.name.toLowerCase() === 'authorization'),
  );
  const responses: Record<string, Json> = {};
  for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
    const declared = (route.responses as Record<string, AppRouteResponse>)[status];
    if (declared === ErrorBody) {
      responses[status] = errorResponse(Number(status));
    } else if (declared !== undefined && isAppRouteOtherResponse(declared)) {
      const body = declared.body as z.ZodTypeAny;
      responses[status] = {
        description: body.description ?? 'Success',
        content: { [declared.contentType]: { schema: { type: 'string' } } },
      };
    } else {
      responses[status] = { ...response, description: response['description'] === status ? 'Success' : response['description'] };
    }
  }
  const extra: Json = {};
  if (route.path === api.sse.path) {
    extra['x-sse-events'] = Object.fromEntries(Object.entries(SSE_EVENT_SCHEMAS).map(([event, { name }]) => [event, REF(name)]));
  }
  if (route.path === api.websocket.path) {
    extra['x-websocket-frames'] = { client: REF('ClientFrame'), server: REF('ServerFrame') };
  }
  return {
    ...operation,
    tags: [isApi ? 'REST API' : 'Realtime transports'],
    parameters,
    ...(isApi ? { security: [{ [BEARER]: [] }] } : {}),
    responses,
    ...extra,
  };
}

const DESCRIPTION = `Publish over REST, deliver over WebSocket, Server-Sent Events and long-poll.

The /api routes need the API key the server prints at start: \`Authorization: Bearer <key>\`.
The wire format of the realtime transports is in docs/protocol.md; their JSON schemas are under
\`components.schemas\` and referenced from the \`x-sse-events\` and \`x-websocket-frames\` extensions.

### Errors
Every error response has the same body; its \`code\` decides the HTTP status:

${errorTableMarkdown()}

### Disconnect codes
WebSocket close codes, also sent as the SSE \`disconnect\` event:

${disconnectTableMarkdown()}`;

export function buildOpenApi(): object {
  const schemas: Record<string, Json> = { Error: schemaOf(ErrorBody), ClientFrame: schemaOf(ClientFrame), ServerFrame: schemaOf(ServerFrame) };
  for (const { name, schema } of Object.values(SSE_EVENT_SCHEMAS)) schemas[name] = schemaOf(schema);

  const doc = generateOpenApi(
    api,
    {
      info: { title: 'Hubbub', version: API_VERSION, description: DESCRIPTION },
      tags: [
        { name: 'REST API', description: 'Publishing and inspection; needs the API key' },
        { name: 'Realtime transports', description: 'Subscriptions over SSE, long-poll and WebSocket; no key needed' },
      ],
      components: {
        schemas,
        securitySchemes: { [BEARER]: { type: 'http', scheme: 'bearer', description: 'The API key printed by the server at start' } },
      },
      'x-protocol-version': PROTOCOL_VERSION,
      'x-error-table': Object.entries(ERROR_TABLE).map(([code, row]) => ({ code, ...row })),
      'x-disconnect-table': Object.entries(DISCONNECT_TABLE).map(([name, row]) => ({ name, ...row })),
    },
    { setOperationId: true, operationMapper: mapOperation },
  );
  return doc;
}
