// What the contract says the answer to an input must be, computed from the input alone. Each
// oracle returns the error codes the input deserves (any one of them is a right answer: the
// contract does not fix the order of checks) or, for a valid input, none. Only the API key check
// is ordered: a request without the key learns nothing else about itself.
import { parse as parseQueryString } from 'node:querystring';
import type { z } from 'zod';
import { ERROR_TABLE, type ErrorCode, type StreamPosition, isChannelName, parseCursor, parsePosition } from '../../contract/index.js';
import { API_KEY_HEADER } from './arbitraries.js';

const CODES_400 = (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((c) => ERROR_TABLE[c].status === 400);

export type HeaderInput = string | string[] | undefined;

/** A header value as the server reads it: node:http sends UTF-8, reads Latin-1, and trims spaces and tabs. */
const received = (text: string) => Buffer.from(text, 'utf8').toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '');

/** node:http keeps the first of duplicated Authorization and Content-Type headers. */
export function firstHeader(value: HeaderInput): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : received(first);
}

export function authorized(header: HeaderInput): boolean {
  return firstHeader(header) === API_KEY_HEADER;
}

export type Expected<T = unknown> =
  | { kind: 'unauthorized' }
  | { kind: 'error'; codes: Set<ErrorCode> }
  | { kind: 'ok'; value: T };

function verdict<T>(codes: Set<ErrorCode>, value: T): Expected<T> {
  return codes.size > 0 ? { kind: 'error', codes } : { kind: 'ok', value };
}

export interface BodyLimits {
  /** Whole request body. */
  body: number;
  /** JSON.stringify(data). */
  data: number;
}

/** POST /api/publish and /api/broadcast: key, media type, size, JSON, schema, data size. */
export function expectPost<S extends z.ZodType<{ data: unknown }>>(
  input: { auth: HeaderInput; contentType: HeaderInput; body: string | Buffer },
  schema: S,
  limits: BodyLimits,
): Expected<z.output<S>> {
  if (!authorized(input.auth)) return { kind: 'unauthorized' };
  const codes = new Set<ErrorCode>();
  const type = (firstHeader(input.contentType) ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') codes.add('unsupported_media_type');
  const bytes = Buffer.from(input.body);
  if (bytes.length > limits.body) codes.add('payload_too_large');
  let json: unknown;
  try {
    const text = bytes.toString('utf8');
    if (text.trim() === '') throw new Error('empty');
    json = JSON.parse(text);
  } catch {
    codes.add('invalid_json');
    return { kind: 'error', codes };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    // The schema may name a precise code (invalid_channel, or a data rule's own): any 400 of the table.
    for (const code of CODES_400) codes.add(code);
    return { kind: 'error', codes };
  }
  let dataBytes: number | undefined;
  try {
    dataBytes = Buffer.byteLength(JSON.stringify(parsed.data.data));
  } catch {
    // Too deep for this process to serialize: the size is unknown, so both answers are right.
    if (codes.size > 0) return { kind: 'error', codes };
    return { kind: 'ok', value: parsed.data };
  }
  if (dataBytes > limits.data) codes.add('payload_too_large');
  return verdict(codes, parsed.data);
}

/** What Koa hands the route as `ctx.query`. */
export function koaQuery(raw: string): Record<string, string | string[] | undefined> {
  return parseQueryString(raw);
}

/** @koa/router decodes a path parameter, or keeps it raw when it is not valid percent-encoding. */
export function routerParam(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export interface HistoryRequest {
  since: { epoch: string; offset: number } | undefined;
  limit: number | undefined;
  reverse: boolean;
}

/** A limit or timeout as z.coerce.number().int() reads it. */
function intIn(text: string, min: number, max: number): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

/** GET /api/channels/:channel/history: the channel, then `since` (a valid position), `limit` 1..1000, `reverse`. */
export function expectHistory(input: { auth: HeaderInput; segment: string; query: string }): Expected<HistoryRequest> {
  // No segment, no route: a 404 before any key check.
  if (input.segment === '') return { kind: 'error', codes: new Set(['not_found']) };
  if (!authorized(input.auth)) return { kind: 'unauthorized' };
  const codes = new Set<ErrorCode>();
  if (!isChannelName(routerParam(input.segment))) codes.add('invalid_channel').add('bad_request');
  const request: HistoryRequest = { since: undefined, limit: undefined, reverse: false };
  for (const [key, value] of Object.entries(koaQuery(input.query))) {
    if (typeof value !== 'string') codes.add('bad_request');
    else if (key === 'since') {
      request.since = parsePosition(value);
      if (!request.since) codes.add('bad_request').add('invalid_cursor');
    } else if (key === 'limit') {
      request.limit = intIn(value, 1, 1000);
      if (request.limit === undefined) codes.add('bad_request');
    } else if (key === 'reverse') {
      if (value !== 'true' && value !== 'false') codes.add('bad_request');
      request.reverse = value === 'true';
    } else codes.add('bad_request');
  }
  return verdict(codes, request);
}

export interface RealtimeRequest {
  channels: string[];
  /** The cursor's position per channel (undefined: from now). */
  since: Array<StreamPosition | undefined>;
  timeout: number | undefined;
}

/**
 * GET /sse and /poll: `channels` (a comma list of distinct valid names, at most `maxChannels`),
 * `cursor` (or for SSE the Last-Event-ID header, which wins) with one entry per channel, and for
 * /poll a `timeout` of 0..60000 ms. Other parameters are ignored.
 */
export function expectRealtime(
  input: { query: string; lastEventId?: HeaderInput },
  options: { maxChannels: number; poll: boolean },
): Expected<RealtimeRequest> {
  const codes = new Set<ErrorCode>();
  const q = koaQuery(input.query);
  const request: RealtimeRequest = { channels: [], since: [], timeout: undefined };
  if (typeof q['channels'] !== 'string' || q['channels'] === '') return { kind: 'error', codes: codes.add('bad_request') };
  if (q['cursor'] !== undefined && typeof q['cursor'] !== 'string') codes.add('bad_request');
  if (options.poll && q['timeout'] !== undefined) {
    request.timeout = typeof q['timeout'] === 'string' ? intIn(q['timeout'], 0, 60_000) : undefined;
    if (request.timeout === undefined) codes.add('bad_request');
  }
  if (codes.size > 0) return { kind: 'error', codes };
  const channels = q['channels'].split(',');
  request.channels = channels;
  if (channels.length > options.maxChannels) codes.add('too_many_channels');
  if (!channels.every(isChannelName)) codes.add('invalid_channel');
  if (new Set(channels).size !== channels.length) codes.add('bad_request');
  // node:http joins repeated Last-Event-ID headers with ", ".
  const header = Array.isArray(input.lastEventId) ? input.lastEventId.map(received).join(', ') : firstHeader(input.lastEventId);
  const cursor = (options.poll ? undefined : header) || (q['cursor'] as string | undefined);
  const since = cursor ? parseCursor(cursor, channels.length) : channels.map(() => undefined);
  if (!since) codes.add('invalid_cursor');
  request.since = since ?? [];
  return verdict(codes, request);
}
