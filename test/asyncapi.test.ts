import { readFileSync } from 'node:fs';
import { type AsyncAPIDocumentInterface, Parser } from '@asyncapi/parser';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  CLIENT_FRAMES,
  POLL_REFUSED,
  POLL_RESPONSE,
  SERVER_FRAMES,
  SSE_REFUSED,
  routeErrorCodes,
  sseMessage,
} from '../contract/asyncapi-messages.js';
import { buildAsyncApi } from '../contract/asyncapi.js';
import {
  ClientFrame,
  DISCONNECT_TABLE,
  ERROR_TABLE,
  PollQuery,
  PollResponse,
  RealtimeQuery,
  SSE_EVENTS,
  ServerFrame,
  api,
} from '../contract/index.js';
import { SSE_EVENT_DATA } from '../contract/openapi-schemas.js';
import { ASYNCAPI_JSON, renderAsyncApiJson } from '../docs/generate-asyncapi.js';

// The AsyncAPI document is generated from the contract: these checks enumerate the contract's frame
// unions, SSE events and tables, so a new frame or event that the document misses fails here.

type Json = Record<string, any>;
const doc = buildAsyncApi() as Json;
const keysOf = (schema: z.ZodTypeAny): string[] => Object.keys((schema as z.AnyZodObject).shape);
const frameTypes = (union: { optionsMap: Map<unknown, unknown> }): string[] => [...union.optionsMap.keys()].map(String);

let parsed: AsyncAPIDocumentInterface;
let diagnostics: Awaited<ReturnType<Parser['validate']>>;

beforeAll(async () => {
  const parser = new Parser();
  diagnostics = await parser.validate(buildAsyncApi() as never);
  const result = await parser.parse(buildAsyncApi() as never);
  if (!result.document) throw new Error(`the document does not parse: ${JSON.stringify(result.diagnostics)}`);
  parsed = result.document;
}, 60_000);

describe('docs/asyncapi.json', () => {
  it('equals buildAsyncApi() (run `npm run asyncapi` and commit the result)', () => {
    expect(readFileSync(ASYNCAPI_JSON, 'utf8') === renderAsyncApiJson(), 'docs/asyncapi.json is out of date: run `npm run asyncapi`').toBe(true);
  });
});

describe('buildAsyncApi()', () => {
  it('is a valid AsyncAPI 3.0.0 document for @asyncapi/parser: no error, no warning', () => {
    const summary = diagnostics.map((d) => `${d.severity} ${d.code} ${d.path.join('/')}: ${d.message}`);
    // Severity 0 is an error, 1 a warning; 2 and 3 are information and hints.
    expect(summary.filter((line) => /^[01] /.test(line))).toEqual([]);
    expect(doc['asyncapi']).toBe('3.0.0');
  });

  it('has the version of package.json and one server per scheme, on a host variable', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(parsed.info().version()).toBe(pkg.version);
    const servers = parsed.servers().all().map((s) => [s.id(), s.protocol(), s.host()]);
    expect(servers).toEqual([
      ['ws', 'ws', '{host}'],
      ['wss', 'wss', '{host}'],
      ['http', 'http', '{host}'],
      ['https', 'https', '{host}'],
    ]);
    for (const s of parsed.servers().all()) expect(s.variables().get('host')?.defaultValue()).toBe('localhost:8080');
  });

  it('puts each channel at the path of its contract route', () => {
    const channels = Object.fromEntries(parsed.channels().all().map((c) => [c.id(), c.address()]));
    expect(channels).toEqual({ websocket: api.websocket.path, sse: api.sse.path, poll: api.poll.path });
  });

  it('has every WebSocket frame of the contract on /ws, its payload with the frame\'s fields', () => {
    const ws = parsed.channels().get('websocket')!;
    const names = ws.messages().all().map((m) => m.name());
    expect(names).toEqual([...frameTypes(ClientFrame), ...frameTypes(ServerFrame)]);
    for (const frame of [...CLIENT_FRAMES, ...SERVER_FRAMES]) {
      const message = ws.messages().get(frame.name);
      expect(message?.name(), frame.name).toBe(frame.type);
      expect(Object.keys(message?.payload()?.properties() ?? {}), frame.name).toEqual(keysOf(frame.schema));
      expect(message?.payload()?.properties()?.['type']?.enum(), frame.name).toEqual([frame.type]);
    }
  });

  it('receives every command and sends every server frame; replies are the frames with an id', () => {
    const receive = parsed.operations().get('receiveCommand')!;
    expect(receive.action()).toBe('receive');
    expect(receive.messages().all().map((m) => m.name())).toEqual(frameTypes(ClientFrame));
    const replies = receive.reply()?.messages().all().map((m) => m.name());
    expect(replies).toEqual(SERVER_FRAMES.filter((f) => keysOf(f.schema).includes('id')).map((f) => f.type));
    expect(replies).toContain('error');
    expect(replies).not.toContain('publication');
    const send = parsed.operations().get('sendFrame')!;
    expect(send.action()).toBe('send');
    expect(send.messages().all().map((m) => m.name())).toEqual(frameTypes(ServerFrame));
  });

  it('has every SSE event of the contract on /sse, its event name and id line as headers, its data as payload', () => {
    const sse = parsed.channels().get('sse')!;
    for (const event of Object.values(SSE_EVENTS)) {
      const message = sse.messages().get(sseMessage(event));
      expect(message?.name(), event).toBe(event);
      const headers = message?.headers()?.properties() ?? {};
      expect(headers['event']?.const(), event).toBe(event);
      const { schema, cursor } = SSE_EVENT_DATA[event];
      expect('id' in headers, `${event} has an id line`).toBe(cursor);
      expect(Object.keys(message?.payload()?.properties() ?? {}), event).toEqual(keysOf(schema));
    }
    const operation = parsed.operations().get('sendEvents')!;
    expect(operation.action()).toBe('send');
    expect(operation.messages().all().map((m) => m.name())).toEqual([...Object.values(SSE_EVENTS), 'errorResponse']);
  });

  it('answers /poll with the poll response, and /sse and /poll refusals with the error codes of their routes', () => {
    const poll = parsed.channels().get('poll')!;
    const response = poll.messages().get(POLL_RESPONSE)!;
    expect(Object.keys(response.payload()?.properties() ?? {})).toEqual(keysOf(PollResponse));
    expect(parsed.operations().get('answerPoll')?.action()).toBe('send');
    for (const [key, route] of [[POLL_REFUSED, api.poll], [SSE_REFUSED, api.sse]] as const) {
      const codes = routeErrorCodes(route);
      expect(codes.length, key).toBeGreaterThan(0);
      expect(doc['components'].messages[key].payload.allOf[1].properties.code.enum, key).toEqual(codes);
      for (const code of codes) expect(doc['components'].messages[key].description, key).toContain(`\`${code}\``);
    }
  });

  it('describes the query of each transport in its binding, from the contract', () => {
    expect(Object.keys(doc['channels'].websocket.bindings.ws.query.properties)).toEqual(['token']);
    const sse = doc['operations'].sendEvents.bindings.http;
    expect(sse.method).toBe(api.sse.method);
    expect(Object.keys(sse.query.properties)).toEqual(keysOf(RealtimeQuery));
    expect(Object.keys(doc['operations'].answerPoll.bindings.http.query.properties)).toEqual(keysOf(PollQuery));
  });

  it('derives the error codes and close codes from the contract tables', () => {
    expect(doc['components'].schemas.Error.properties.code.enum).toEqual(Object.keys(ERROR_TABLE));
    for (const code of Object.keys(ERROR_TABLE)) expect(doc['info'].description).toContain(`| \`${code}\` |`);
    expect(doc['x-disconnect-table']).toEqual(Object.entries(DISCONNECT_TABLE).map(([name, row]) => ({ name, ...row })));
    for (const [name, row] of Object.entries(DISCONNECT_TABLE)) {
      expect(doc['channels'].websocket.description).toContain(`| \`${name}\` | ${row.code} |`);
    }
    expect(doc['components'].schemas.SseDisconnectEvent.properties.name.enum).toEqual(Object.keys(DISCONNECT_TABLE));
  });

  it('writes a nullable field as a JSON Schema type list (draft 07 has no nullable)', () => {
    expect(doc['components'].schemas.ConnectedFrame.properties.user.type).toEqual(['string', 'null']);
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
  });
});
