import { readFileSync } from 'node:fs';
import { ContractNoBody, isAppRoute, type AppRoute, type AppRouter } from '@ts-rest/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ClientFrame,
  DISCONNECT_TABLE,
  ERROR_TABLE,
  ErrorBody,
  type ErrorCode,
  SSE_EVENTS,
  SseConnectedEvent,
  SseDisconnectEvent,
  SsePingEvent,
  SseSubscribedEvent,
  ServerFrame,
  adminApi,
  api,
  parseCursor,
  Publication,
  isChannelName,
  isEventName,
  routeAccess,
} from '../contract/index.js';
import { API_VERSION, ASYNCAPI_URL, CODES_TAG, LICENSE, PROTOCOL_GUIDE_URL, buildOpenApi } from '../contract/openapi.js';
import {
  type Example,
  parseAction,
  parseExamples,
  parseHttpMessage,
  parseSseEvents,
  requestLine,
  statusOf,
} from '../docs/examples.js';
import { OPENAPI_JSON, renderOpenApiJson } from '../docs/generate-openapi.js';
import { GENERATED_REGIONS, PROTOCOL_MD, type RegionName, readRegion } from '../docs/generate-tables.js';

/** The document is walked as plain JSON; its shape is what the assertions check. */
type Json = Record<string, any>;
const doc = buildOpenApi() as Json;
// The admin routes are a router of their own (contract/admin.ts) in the same document.
const routes = (Object.entries({ ...api, ...adminApi }) as Array<[string, AppRoute | AppRouter]>).filter((e): e is [string, AppRoute] => isAppRoute(e[1]));
const protocolMd = readFileSync(PROTOCOL_MD, 'utf8');
const REGENERATE = 'run `npm run openapi` and commit the result';

describe('generated files are up to date', () => {
  it('docs/openapi.json equals buildOpenApi()', () => {
    const committed = readFileSync(OPENAPI_JSON, 'utf8');
    expect(committed === renderOpenApiJson(), `docs/openapi.json is out of date: ${REGENERATE}`).toBe(true);
  });

  it.each(Object.keys(GENERATED_REGIONS) as RegionName[])('docs/protocol.md %s table equals the contract table', (name) => {
    expect(readRegion(protocolMd, name), `the ${name} table of docs/protocol.md is out of date: ${REGENERATE}`).toBe(
      GENERATED_REGIONS[name](),
    );
  });
});

describe('buildOpenApi()', () => {
  it('has title, version from API_VERSION (= package.json), license (= package.json), a server and the bearer scheme', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; license: string };
    expect(doc['info'].title).toBe('Hubbub');
    expect(doc['info'].version).toBe(API_VERSION);
    expect(API_VERSION, 'API_VERSION in contract/openapi.ts must follow package.json').toBe(pkg.version);
    expect(doc['info'].license).toEqual(LICENSE);
    expect(LICENSE.name, 'LICENSE in contract/openapi.ts must follow package.json').toBe(pkg.license);
    expect(doc['servers']).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc['components'].securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it.each(routes)('route %s declares who may call it (contract metadata)', (_key, route) => {
    expect(routeAccess(route)).toBeDefined();
    // /metrics takes a key too, at the path Prometheus scrapes by default.
    expect(routeAccess(route)?.auth === 'apiKey').toBe(route.path.startsWith('/api/') || route.path === '/metrics');
  });

  it.each(routes)('route %s is present with its method, operationId, summary and security', (key, route) => {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const op = doc['paths'][path]?.[route.method.toLowerCase()];
    expect(op, `${route.method} ${path}`).toBeDefined();
    expect(op.operationId).toBe(key);
    expect(op.summary).toBe(route.summary);
    if (routeAccess(route)?.auth === 'apiKey') {
      expect(op.security).toEqual([{ bearer: [] }]);
      expect(op.parameters.map((p: Json) => p['name'])).not.toContain('authorization');
    } else if (routeAccess(route)?.auth === 'connection') {
      expect(op.security, 'client routes take an optional connection token, never the key').toEqual([{}, { connectionToken: [] }]);
    } else if (routeAccess(route)?.auth === 'admin' && route !== adminApi.adminLogin) {
      expect(op.security, 'admin routes take the session cookie').toEqual([{ adminSession: [] }]);
    } else {
      expect(op.security, 'open routes say so with an empty list').toEqual([]);
    }
  });

  it.each(routes.filter(([, route]) => 'body' in route && route.body !== ContractNoBody))('route %s marks its body required (generated clients must send one)', (_key, route) => {
    const op = doc['paths'][route.path.replace(/:(\w+)/g, '{$1}')][route.method.toLowerCase()];
    expect(op.requestBody.required).toBe(true);
  });

  it.each(routes)('route %s lists every status of the contract, errors narrowed to their codes', (_key, route) => {
    const op = doc['paths'][route.path.replace(/:(\w+)/g, '{$1}')][route.method.toLowerCase()];
    const declared = Object.keys(route.responses);
    // A WebSocket upgrade answers 101, which the contract (HTTP only) does not declare.
    const upgrade = route === api.websocket ? ['101'] : [];
    expect(Object.keys(op.responses).sort()).toEqual([...upgrade, ...declared].sort());
    for (const status of declared) {
      if ((route.responses as Record<string, unknown>)[status] !== ErrorBody) continue;
      const codes = (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((c) => String(ERROR_TABLE[c].status) === status);
      const schema = op.responses[status].content['application/json'].schema;
      expect(schema.allOf[0]).toEqual({ $ref: '#/components/schemas/Error' });
      expect(schema.allOf[1].properties.code.enum).toEqual(codes);
      for (const code of codes) expect(op.responses[status].description).toContain(code);
    }
  });

  it('describes the publish body with channel and data (zod 3 schemas, not {})', () => {
    const schema = doc['paths']['/api/publish'].post.requestBody.content['application/json'].schema;
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(['channel', 'data']);
    expect(schema.properties.channel).toMatchObject({ type: 'string', maxLength: 255 });
    expect(schema.properties.channel.pattern).toBeTruthy();
    expect(Object.keys(schema.properties)).toEqual(['channel', 'data', 'event', 'tags', 'idempotencyKey']);
    expect(schema.properties.event).toMatchObject({ type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' });
  });

  it('has no empty schema anywhere', () => {
    const empty: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}[${i}]`));
      if (node === null || typeof node !== 'object') return;
      for (const [k, v] of Object.entries(node)) {
        if (k === 'schema' && (v === null || typeof v !== 'object' || Object.keys(v).length === 0)) empty.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
    };
    walk(doc, '$');
    expect(empty).toEqual([]);
  });

  it('derives the Error schema and the x- tables from the contract tables', () => {
    expect(doc['components'].schemas.Error.properties.code.enum).toEqual(Object.keys(ERROR_TABLE));
    expect(doc['x-error-table']).toEqual(Object.entries(ERROR_TABLE).map(([code, row]) => ({ code, ...row })));
    expect(doc['x-disconnect-table'].map((r: Json) => r['code'])).toEqual(Object.values(DISCONNECT_TABLE).map((r) => r.code));
  });

  it('tables the error and disconnect codes in the last tag, which no operation has, so /docs shows them after the endpoints', () => {
    const tags = doc['tags'] as Json[];
    const codes = tags.at(-1)!;
    expect(codes['name']).toBe(CODES_TAG);
    for (const code of Object.keys(ERROR_TABLE)) expect(codes['description']).toContain(`| \`${code}\` |`);
    for (const [name, row] of Object.entries(DISCONNECT_TABLE)) expect(codes['description']).toContain(`| \`${name}\` | ${row.code} |`);
    // The requests Hubbub makes to the backend (x-webhooks) are operations too, with their own tag.
    const items = [...Object.values(doc['paths'] as Json), ...Object.values(doc['x-webhooks'] as Json)];
    const used = items.flatMap((item) => Object.values(item as Json).flatMap((op) => (op as Json)['tags'] as string[]));
    expect(used).not.toContain(CODES_TAG);
    expect(tags.slice(0, -1).map((t) => t['name'])).toEqual([...new Set(used)]);
    expect(doc['info'].description, 'the info block comes before the operations: no table in it').not.toContain('| code |');
  });

  it('links the protocol guide and the AsyncAPI document at the URLs the server serves', () => {
    expect(doc['info'].description).toContain(`](${PROTOCOL_GUIDE_URL})`);
    expect(doc['info'].description).toContain(`](${ASYNCAPI_URL})`);
    expect(doc['info'].description, 'a repository path is no link on a served page').not.toMatch(/(?<!\/)docs\/protocol\.md/);
  });

  it('points the SSE and WebSocket routes at the event and frame schemas through their responses', () => {
    const schemas = doc['components'].schemas;
    const target = (schema: Json): Json => schemas[schema['$ref'].split('/').pop()];
    const sse = doc['paths']['/sse'].get.responses['200'].content['text/event-stream'].schema;
    const events = target(sse)['oneOf'] as Json[];
    expect(events.map((e) => e['properties'].event.enum[0])).toEqual(Object.values(SSE_EVENTS));
    for (const e of events) expect(target(e['properties'].data), JSON.stringify(e)).toBeDefined();
    const ws = doc['paths']['/ws'].get.responses['101'].content['application/json'].schema;
    expect(target(ws)['oneOf']).toEqual([{ $ref: '#/components/schemas/ClientFrame' }, { $ref: '#/components/schemas/ServerFrame' }]);
    for (const [name, union] of [['ClientFrame', ClientFrame], ['ServerFrame', ServerFrame]] as const) {
      const mapping = schemas[name].discriminator.mapping as Record<string, string>;
      expect(Object.keys(mapping)).toEqual([...union.optionsMap.keys()]);
      for (const ref of Object.values(mapping)) expect(target({ $ref: ref }), ref).toBeDefined();
    }
  });

  it('renders data (any JSON value) without nullable, which OpenAPI 3.0 only allows next to a type', () => {
    const data = doc['components'].schemas.Publication.properties.data;
    expect(data).toEqual({ description: 'Any JSON value' });
    const untyped: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (node === null || typeof node !== 'object') return;
      if ('nullable' in node && !('type' in node)) untyped.push(at);
      for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
    };
    walk(doc, '#');
    expect(untyped).toEqual([]);
  });
});

/* ---------- docs/protocol.md examples, checked against the contract ---------- */

const examples = parseExamples(protocolMd);

function findRoute(method: string, pathname: string): { route: AppRoute; params: Record<string, string> } {
  for (const [, route] of routes) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = new RegExp(`^${route.path.replace(/:(\w+)/g, (_, n: string) => (names.push(n), '([^/]+)'))}$`);
    const m = pattern.exec(pathname);
    if (m) return { route, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
  }
  throw new Error(`no contract route for ${method} ${pathname}`);
}

function checkError(body: unknown, status?: number): void {
  const error = ErrorBody.parse(body);
  if (status !== undefined) expect(ERROR_TABLE[error.code].status, `status of ${error.code}`).toBe(status);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkAction(text: string): void {
  const action = parseAction(text);
  expect(['publish', 'shutdown']).toContain(action.name);
  if ('channel' in action) expect(isChannelName(action.channel), text).toBe(true);
  if ('event' in action) expect(isEventName(action.event), text).toBe(true);
}

function checkWs(example: Example): void {
  const pending = new Set<number>();
  example.steps.forEach((step, i) => {
    if (step.kind === 'action') return checkAction(step.text);
    if (step.kind === 'send') {
      const next = example.steps.slice(i + 1).find((s) => s.kind === 'receive');
      const parsed = ClientFrame.safeParse(tryJson(step.text));
      if (parsed.success) pending.add(parsed.data.id);
      else expect(next?.text, `a bad frame must be answered by invalid_frame: ${step.text}`).toContain('"code":"invalid_frame"');
      return;
    }
    const close = /^close (\d{4}) (.+)$/.exec(step.text);
    if (close) {
      const row = Object.values(DISCONNECT_TABLE).find((r) => r.code === Number(close[1]));
      return void expect(row?.reason, step.text).toBe(close[2]);
    }
    const frame = ServerFrame.parse(JSON.parse(step.text));
    if (frame.type === 'error') checkError({ ...frame, type: undefined, id: undefined });
    if ('id' in frame && frame.id !== undefined) expect(pending.delete(frame.id), `reply to an unknown id ${frame.id}`).toBe(true);
  });
  expect([...pending], 'commands without a reply').toEqual([]);
}

type SseEventName = (typeof SSE_EVENTS)[keyof typeof SSE_EVENTS];
/** The `data:` schema of each SSE event; `satisfies` makes a new event name fail to compile here. */
const SSE_EVENT_DATA = {
  connected: SseConnectedEvent,
  subscribed: SseSubscribedEvent,
  publication: Publication,
  ping: SsePingEvent,
  disconnect: SseDisconnectEvent,
} satisfies Record<SseEventName, z.ZodTypeAny>;

function checkHttp(example: Example): void {
  const sends = example.steps.filter((s) => s.kind === 'send');
  const receives = example.steps.filter((s) => s.kind === 'receive');
  expect(sends).toHaveLength(1);
  const request = parseHttpMessage(sends[0]!.text);
  const { method, url } = requestLine(request);
  const { route, params } = findRoute(method, url.pathname);
  if (route.pathParams) (route.pathParams as z.ZodTypeAny).parse(params);
  if ('query' in route && route.query) (route.query as z.ZodTypeAny).parse(Object.fromEntries(url.searchParams));
  for (const step of example.steps) if (step.kind === 'action') checkAction(step.text);

  const response = parseHttpMessage(receives[0]!.text);
  const status = statusOf(response);
  if (route.method === 'POST') {
    // A refused body (a 400 example) must be one the contract refuses, and every other body one it takes.
    const accepted = (route.body as z.ZodTypeAny).safeParse(JSON.parse(request.body)).success;
    expect(accepted, `the body of ${example.id} ${status === 400 ? 'is refused' : 'matches the contract'}`).toBe(status !== 400);
  }
  if (route === api.sse && status === 200) {
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    const channels = url.searchParams.get('channels')!.split(',');
    const events = parseSseEvents([response.body, ...receives.slice(1).map((r) => r.text)].join('\n'));
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]?.event, 'an SSE stream starts with connected').toBe(SSE_EVENTS.connected);
    for (const e of events) {
      expect(Object.values(SSE_EVENTS)).toContain(e.event);
      const data: unknown = SSE_EVENT_DATA[e.event as SseEventName].parse(JSON.parse(e.data));
      if (e.event === SSE_EVENTS.disconnect) {
        const d = data as z.infer<typeof SseDisconnectEvent>;
        expect(DISCONNECT_TABLE[d.name].code).toBe(d.code);
      }
      if (e.event === SSE_EVENTS.subscribed || e.event === SSE_EVENTS.publication) {
        expect(parseCursor(e.id ?? '', channels.length), `id of ${e.event} is a cursor: ${e.id}`).toBeDefined();
      } else expect(e.id, `${e.event} must not move the cursor`).toBeUndefined();
    }
    return;
  }
  expect(receives).toHaveLength(1);
  const schema = (route.responses as Record<number, unknown>)[status];
  expect(schema, `${route.method} ${route.path} declares status ${status}`).toBeDefined();
  const body = JSON.parse(response.body) as unknown;
  if (schema === ErrorBody) checkError(body, status);
  else (schema as z.ZodTypeAny).parse(body);
}

describe('docs/protocol.md examples match the contract', () => {
  it('has unique example ids, covering every transport', () => {
    const ids = examples.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const prefix of ['rest-', 'ws-', 'sse-', 'poll-']) expect(ids.some((id) => id.startsWith(prefix)), prefix).toBe(true);
  });

  it.each(examples.map((e) => [e.id, e] as const))('example %s', (_id, example) => {
    if (example.language === 'ws') checkWs(example);
    else checkHttp(example);
  });
});
