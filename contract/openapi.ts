import { isAppRouteOtherResponse, isZodType, type AppRoute, type AppRouteResponse } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';
import type { z } from 'zod';
import { routeAccess } from './access.js';
import { adminApi } from './admin.js';
import { api } from './api.js';
import { DISCONNECT_TABLE } from './disconnect.js';
import { ERROR_TABLE, ErrorBody, type ErrorCode } from './errors.js';
import { PROTOCOL_VERSION } from './index.js';
import { REF, componentSchemas, dropUntypedNullable, type Json } from './openapi-schemas.js';
import { WEBHOOK_SIGNATURE, WEBHOOK_SIGNATURE_SCHEME, webhookOperations, webhookSchemas } from './openapi-webhooks.js';

/** The API version published in the OpenAPI document; test/openapi.test.ts keeps it equal to package.json. */
export const API_VERSION = '0.1.0';

/** The license of package.json; test/openapi.test.ts keeps them equal. */
export const LICENSE = { name: 'MIT', url: 'https://opensource.org/licenses/MIT' };

/** Security scheme name used by every /api route. */
export const BEARER = 'bearer';
/** Security scheme of the client routes: a connection token signed by the app's backend (optional: anonymous clients may use public channels). */
export const CONNECTION_TOKEN = 'connectionToken';

/** Security scheme of the admin dashboard's routes: the signed session cookie of POST /admin/api/login. */
export const ADMIN_SESSION = 'adminSession';
/** Served by every node (server/http/static.ts); relative, like the document's server. */
export const PROTOCOL_GUIDE_URL = '/docs/protocol.md';
export const ASYNCAPI_URL = '/asyncapi.json';

type OperationMapper = NonNullable<NonNullable<Parameters<typeof generateOpenApi>[2]>['operationMapper']>;
type Operation = Parameters<OperationMapper>[0];

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

/** After the upgrade the connection carries frames, not an HTTP body; this is where the document shows them. */
const SWITCHING_PROTOCOLS: Json = {
  description:
    'Switching Protocols: the connection is a WebSocket from now on. Every text frame is one JSON object, ' +
    `a ClientFrame from the client or a ServerFrame from the server; see the [protocol guide](${PROTOCOL_GUIDE_URL}) ` +
    `and the [AsyncAPI document](${ASYNCAPI_URL}).`,
  content: { 'application/json': { schema: REF('WebSocketFrame') } },
};

/** Who may call the route comes from its access metadata in the contract (contract/access.ts), not its path. */
function securityOf(route: AppRoute): Array<Record<string, string[]>> {
  const access = routeAccess(route);
  if (access?.auth === 'apiKey') return [{ [BEARER]: [] }];
  // Anonymous or with a token: an empty requirement next to the scheme makes the token optional.
  if (access?.auth === 'connection') return [{}, { [CONNECTION_TOKEN]: [] }];
  if (access?.auth === 'admin' && access.session) return [{ [ADMIN_SESSION]: [] }];
  return [];
}

function mapOperation(operation: Operation, route: AppRoute): Operation {
  const isApi = routeAccess(route)?.auth === 'apiKey';
  const parameters = (operation.parameters ?? []).filter(
    // OpenAPI ignores an Authorization header parameter; the security scheme describes it.
    (p) => !(isApi && 'in' in p && p.in === 'header' && p.name.toLowerCase() === 'authorization'),
  );
  const responses: Record<string, Json> = route.path === api.websocket.path ? { '101': SWITCHING_PROTOCOLS } : {};
  for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
    const declared = (route.responses as Record<string, AppRouteResponse>)[status];
    if (declared === ErrorBody) {
      responses[status] = errorResponse(Number(status));
    } else if (declared !== undefined && isAppRouteOtherResponse(declared)) {
      const body = declared.body as z.ZodTypeAny;
      // The SSE body is a string on the wire; its schema is the events it is made of.
      const schema = route.path === api.sse.path ? REF('SseEvent') : { type: 'string' };
      responses[status] = { description: body.description ?? 'Success', content: { [declared.contentType]: { schema } } };
    } else {
      responses[status] = { ...response, description: response['description'] === status ? 'Success' : response['description'] };
    }
  }
  // ts-rest never marks a body required, so generated clients would let callers leave it out.
  const body: unknown = 'body' in route ? route.body : undefined;
  const given = operation.requestBody;
  const requestBody = given && !('$ref' in given) && isZodType(body) && !body.isOptional() ? { ...given, required: true } : given;
  return {
    ...operation,
    tags: [isApi ? 'REST API' : routeAccess(route)?.auth === 'admin' ? 'Admin dashboard' : 'Realtime transports'],
    parameters,
    ...(requestBody ? { requestBody } : {}),
    security: securityOf(route),
    responses,
  };
}

/** The last tag: it has no operation, so Swagger UI shows its description (the code tables) after them. */
export const CODES_TAG = 'Error and disconnect codes';

const DESCRIPTION = `Publish over REST, deliver over WebSocket, Server-Sent Events and long-poll.

The /api routes need an API key: \`Authorization: Bearer <key>\`. Clients use a connection token
signed by your backend, or none for public channels (docs/security.md).
The wire format of the realtime transports is in the [protocol guide](${PROTOCOL_GUIDE_URL}), and as an
[AsyncAPI document](${ASYNCAPI_URL}); their JSON schemas are also under \`components.schemas\` here:
\`SseEvent\` (the 200 response of /sse) and \`WebSocketFrame\` (the 101 response of /ws).
The error and disconnect codes are tabled after the operations.`;

const CODES_DESCRIPTION = `### Errors
Every error response has the same body; its \`code\` decides the HTTP status:

${errorTableMarkdown()}

### Disconnect codes
WebSocket close codes, also sent as the SSE \`disconnect\` event:

${disconnectTableMarkdown()}`;

export function buildOpenApi(): object {
  const doc = generateOpenApi(
    { ...api, ...adminApi },
    {
      info: { title: 'Hubbub', version: API_VERSION, description: DESCRIPTION, license: LICENSE },
      // Relative: the node that serves this document (GET /openapi.json) is the one to call.
      servers: [{ url: '/', description: 'The Hubbub node serving this document' }],
      tags: [
        { name: 'REST API', description: 'Publishing and inspection; needs the API key' },
        { name: 'Realtime transports', description: 'Subscriptions over SSE, long-poll and WebSocket, and client publish: anonymous or with a connection token' },
        { name: 'Admin dashboard', description: 'The API of the dashboard at /admin (docs/admin.md); 404 unless an admin password or admin key is configured' },
        { name: 'Webhooks', description: 'Requests Hubbub makes to your backend (x-webhooks; docs/webhooks.md)' },
        { name: CODES_TAG, description: CODES_DESCRIPTION },
      ],
      components: {
        schemas: { ...componentSchemas(), ...webhookSchemas() },
        securitySchemes: {
          [BEARER]: { type: 'http', scheme: 'bearer', description: 'An API key: the one printed by the server at start, or a scoped key of the config file' },
          [CONNECTION_TOKEN]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'A connection token signed by your backend (docs/security.md); also accepted as the token query parameter or a cookie',
          },
          [WEBHOOK_SIGNATURE]: WEBHOOK_SIGNATURE_SCHEME,
          [ADMIN_SESSION]: {
            type: 'apiKey',
            in: 'cookie',
            name: 'hubbub_admin',
            description: 'The session cookie set by POST /admin/api/login; state-changing calls also need the X-CSRF-Token header',
          },
        },
      },
      'x-webhooks': webhookOperations(),
      'x-protocol-version': PROTOCOL_VERSION,
      'x-error-table': Object.entries(ERROR_TABLE).map(([code, row]) => ({ code, ...row })),
      'x-disconnect-table': Object.entries(DISCONNECT_TABLE).map(([name, row]) => ({ name, ...row })),
    },
    { setOperationId: true, operationMapper: mapOperation },
  );
  dropUntypedNullable(doc);
  return doc;
}
