// The AsyncAPI 3 document of the realtime transports (WebSocket, SSE, long-poll), generated from the
// contract as the OpenAPI document is: names, events, error and disconnect codes come from its tables.
import { api } from './api.js';
import { DISCONNECT_TABLE } from './disconnect.js';
import { ERROR_TABLE } from './errors.js';
import { PollQuery, RealtimeQuery } from './frames.js';
import { PROTOCOL_VERSION } from './index.js';
import {
  CLIENT_FRAMES,
  MESSAGE_REF,
  POLL_REFUSED,
  POLL_RESPONSE,
  REPLY_FRAMES,
  SERVER_FRAMES,
  SSE_REFUSED,
  asyncApiMessages,
  asyncApiSchemas,
  jsonSchemaOf,
  sseMessage,
} from './asyncapi-messages.js';
import { API_VERSION, LICENSE, PROTOCOL_GUIDE_URL, disconnectTableMarkdown, errorTableMarkdown } from './openapi.js';
import { SSE_EVENT_DATA, type Json } from './openapi-schemas.js';

export const ASYNCAPI_VERSION = '3.0.0';

/** The channel keys are the contract's route keys; their addresses are the routes' paths. */
const WS = 'websocket';
const SSE = 'sse';
const POLL = 'poll';

/** Binding versions of the AsyncAPI bindings specification that the parser knows. */
const WS_BINDING = '0.1.0';
const HTTP_BINDING = '0.3.0';

/** The WebSocket upgrade reads only the token of the realtime query (server/transports/websocket.ts). */
const WebSocketQuery = RealtimeQuery.pick({ token: true });

const serverRef = (name: string): Json => ({ $ref: `#/servers/${name}` });
const channelRef = (name: string): Json => ({ $ref: `#/channels/${name}` });
const inChannel = (channel: string, message: string): Json => ({ $ref: `#/channels/${channel}/messages/${message}` });
const SECURITY = [{ $ref: '#/components/securitySchemes/connectionToken' }, { $ref: '#/components/securitySchemes/tokenQuery' }];

function server(protocol: string, description: string): Json {
  return {
    host: '{host}',
    protocol,
    description,
    variables: { host: { default: 'localhost:8080', description: 'Host and port of any Hubbub node' } },
    security: SECURITY,
  };
}

const DESCRIPTION = `The realtime transports of Hubbub: clients subscribe to channels over WebSocket, Server-Sent
Events or long-poll (backends publish over the REST API: /openapi.json). The wire format, recovery and
examples are in the protocol guide (${PROTOCOL_GUIDE_URL}).

Operations are described from the server's side: \`send\` is what a Hubbub node sends, \`receive\`
what it receives from a client. A connection token is optional: anonymous clients may use public
channels.

### Errors
Every error (an HTTP response body, a WebSocket \`error\` frame) has the same body:

${errorTableMarkdown()}`;

const WS_DESCRIPTION = `One WebSocket per client; every text frame is one JSON object. The client sends
commands with an id of its choice; the server's reply carries that id. \`publication\`, the greeting
\`connected\` and server-side \`subscribed\`/\`unsubscribed\` frames carry none.

The server closes the connection with one of these codes (the range tells a client whether to reconnect):

${disconnectTableMarkdown()}`;

const SSE_DESCRIPTION = `A \`text/event-stream\` of several channels. Each event has an \`event:\` line, one
\`data:\` line of JSON and, on \`subscribed\` and \`publication\`, an \`id:\` line: the cursor after it,
which EventSource sends back as the \`Last-Event-ID\` header on reconnect (it takes precedence over
\`cursor\`). Before it ends the stream, the server sends a \`disconnect\` event with a row of the
disconnect table (see the WebSocket channel).`;

const POLL_DESCRIPTION = `Long-poll: a GET answers at once when something is newer than the cursor, else
waits up to \`timeout\` ms. Send the answer's \`cursor\` back with the next poll.`;

function channelMessages(keys: string[]): Record<string, Json> {
  return Object.fromEntries(keys.map((key) => [key, MESSAGE_REF(key)]));
}

export function buildAsyncApi(): object {
  const wsMessages = [...CLIENT_FRAMES, ...SERVER_FRAMES].map((f) => f.name);
  const sseMessages = [...Object.keys(SSE_EVENT_DATA).map(sseMessage), SSE_REFUSED];
  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: 'Hubbub realtime transports',
      version: API_VERSION,
      description: DESCRIPTION,
      license: LICENSE,
    },
    defaultContentType: 'application/json',
    servers: {
      ws: server('ws', 'WebSocket over plain HTTP'),
      wss: server('wss', 'WebSocket over TLS'),
      http: server('http', 'Server-Sent Events and long-poll over plain HTTP'),
      https: server('https', 'Server-Sent Events and long-poll over TLS'),
    },
    channels: {
      [WS]: {
        address: api.websocket.path,
        title: 'WebSocket',
        description: WS_DESCRIPTION,
        servers: [serverRef('ws'), serverRef('wss')],
        messages: channelMessages(wsMessages),
        bindings: { ws: { method: api.websocket.method, query: jsonSchemaOf(WebSocketQuery), bindingVersion: WS_BINDING } },
      },
      [SSE]: {
        address: api.sse.path,
        title: 'Server-Sent Events',
        description: SSE_DESCRIPTION,
        servers: [serverRef('http'), serverRef('https')],
        messages: channelMessages(sseMessages),
      },
      [POLL]: {
        address: api.poll.path,
        title: 'Long-poll',
        description: POLL_DESCRIPTION,
        servers: [serverRef('http'), serverRef('https')],
        messages: channelMessages([POLL_RESPONSE, POLL_REFUSED]),
      },
    },
    operations: {
      receiveCommand: {
        action: 'receive',
        channel: channelRef(WS),
        title: 'Receive a command',
        summary: 'A command frame from the client; the server answers with a reply frame of the same id, or an error frame',
        messages: CLIENT_FRAMES.map((f) => inChannel(WS, f.name)),
        reply: { channel: channelRef(WS), messages: REPLY_FRAMES.map((f) => inChannel(WS, f.name)) },
      },
      sendFrame: {
        action: 'send',
        channel: channelRef(WS),
        title: 'Send a frame',
        summary: 'Every frame the server sends: replies, publications, the greeting, server-side subscribe and unsubscribe',
        messages: SERVER_FRAMES.map((f) => inChannel(WS, f.name)),
      },
      sendEvents: {
        action: 'send',
        channel: channelRef(SSE),
        title: 'Stream events',
        summary: api.sse.summary,
        messages: sseMessages.map((m) => inChannel(SSE, m)),
        bindings: { http: { method: api.sse.method, query: jsonSchemaOf(RealtimeQuery), bindingVersion: HTTP_BINDING } },
      },
      answerPoll: {
        action: 'send',
        channel: channelRef(POLL),
        title: 'Answer a poll',
        summary: api.poll.summary,
        messages: [inChannel(POLL, POLL_RESPONSE), inChannel(POLL, POLL_REFUSED)],
        bindings: { http: { method: api.poll.method, query: jsonSchemaOf(PollQuery), bindingVersion: HTTP_BINDING } },
      },
    },
    components: {
      schemas: asyncApiSchemas(),
      messages: asyncApiMessages(api.sse, api.poll),
      securitySchemes: {
        connectionToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A connection token signed by your backend (docs/security.md), as Authorization: Bearer; optional',
        },
        tokenQuery: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The same connection token as the token query parameter, for clients that cannot send headers (EventSource)',
        },
      },
    },
    'x-protocol-version': PROTOCOL_VERSION,
    'x-error-table': Object.entries(ERROR_TABLE).map(([code, row]) => ({ code, ...row })),
    'x-disconnect-table': Object.entries(DISCONNECT_TABLE).map(([name, row]) => ({ name, ...row })),
  };
}
