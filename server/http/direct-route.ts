import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AppRoute } from '@ts-rest/core';
import { routeAccess } from '../../contract/index.js';
import type { OriginPolicy } from '../session/origins.js';
import { type Exchange, RESPONDED, parse } from './adapter.js';
import { type ErrorPolicy, noteFailure, retryAfter } from './error-middleware.js';
import { ENCODED, type QueryCheck, compileQueryCheck } from './query-check.js';
import { logWhenDone } from './request-log.js';

// The realtime GET endpoints (/poll, /sse) answered by node:http directly, before Koa. A poll is the
// hottest request the server answers, and Koa's context, middleware chain and router cost more than
// the poll itself. Nothing here is a second definition: the request is checked against the same
// contract route with the same parse() as the Koa adapter, CORS asks the same OriginPolicy, errors
// leave through the same error policy — and whatever this door does not answer exactly as Koa would
// (another method, a URL parseurl would read differently, a refused origin, a query or header the
// contract rejects) goes to Koa untouched, which answers it as before.

/** A contract route's handler that writes its own response (a transport's handle()). */
export type DirectHandler = (req: { params: object; query: unknown; headers: unknown; body: undefined }, exchange: Exchange) => Promise<unknown>;

export interface DirectRoute {
  route: AppRoute;
  handle: DirectHandler;
  /** The handler writes Exchange.corsHeaders with its head; otherwise they are set on the response first. */
  sendsCorsHeaders: boolean;
}

interface Compiled extends DirectRoute {
  query: unknown;
  /** The query schema compiled (query-check.ts); undefined: the schema parses every request. */
  check: QueryCheck | undefined;
}

export interface DirectDeps extends ErrorPolicy {
  /** Read per request: a reload may replace them. */
  origins: () => OriginPolicy;
  /** Paths that answer pages on other origins (CORS), as Koa's cors() middleware is given. */
  crossOrigin: readonly string[];
}

const VARY_ORIGIN: Readonly<Record<string, string>> = Object.freeze({ Vary: 'Origin' });

/** Characters that make parseurl (Koa's URL reader) fall back to the full URL parser: Koa decides those. */
const UNUSUAL_URL = /[\t\n\f\r #\u00a0\ufeff]/;

/** Koa's `ctx.query` (URLSearchParams): every key once, in order of first appearance; a repeated key as the array of its values. */
export function parseQuery(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (text === '') return out;
  if (ENCODED.test(text)) {
    for (const [key, value] of new URLSearchParams(text)) add(out, key, value);
    return out;
  }
  // What URLSearchParams does to plain text: one leading `?` dropped, `&`-separated, empty parts skipped, split at the first `=`.
  for (const part of (text.charCodeAt(0) === 0x3f ? text.slice(1) : text).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) add(out, part, '');
    else add(out, part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

function add(out: Record<string, string | string[]>, key: string, value: string): void {
  const seen = Object.hasOwn(out, key) ? out[key]! : undefined;
  if (seen === undefined) {
    // `__proto__` must become a plain entry, as in Koa; defined, not assigned (only for it: a defined
    // property turns the object into a slow dictionary).
    if (key === '__proto__') Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
    else out[key] = value;
  } else if (typeof seen === 'string') out[key] = [seen, value];
  else seen.push(value);
}

/** Requests for `routes` that this door can answer go there; every other request goes to `fallback` (Koa). */
export function directRequests(fallback: RequestListener, routes: readonly DirectRoute[], deps: DirectDeps): RequestListener {
  const byPath = new Map<string, Compiled>();
  for (const r of routes) {
    const access = routeAccess(r.route);
    // Koa's guard reads the access rule: a route it would refuse or authenticate cannot skip it.
    if (r.route.method !== 'GET' || !access || access.auth === 'apiKey' || 'body' in r.route) {
      throw new Error(`${r.route.method} ${r.route.path} cannot be a direct route`);
    }
    const query = 'query' in r.route ? r.route.query : undefined;
    byPath.set(r.route.path, { ...r, query, check: compileQueryCheck(query) });
  }
  const crossOrigin = new Set(deps.crossOrigin);

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const direct = req.method === 'GET' ? byPath.get(path) : undefined;
    if (!direct || UNUSUAL_URL.test(url)) return fallback(req, res);
    const cors = crossOrigin.has(path);
    const origin = cors ? req.headers.origin : undefined;
    // A refused origin is Koa's cors() middleware's 403.
    if (origin !== undefined && origin !== '' && !deps.origins().allows(origin, req.headers.host ?? '')) return fallback(req, res);
    let query: unknown;
    let headers: unknown;
    try {
      const text = q < 0 ? '' : url.slice(q + 1);
      query = direct.check?.(text) ?? parse(parseQuery(text), direct.query, 'query');
      headers = parse(req.headers, direct.route.headers, 'headers', true);
    } catch {
      // The contract refuses the request: Koa's adapter answers the same 400, counted as always.
      return fallback(req, res);
    }
    // Koa's cors(): every answer varies with Origin; an allowed one is echoed with credentials.
    let corsHeaders: Record<string, string> | undefined;
    if (cors) {
      corsHeaders =
        origin === undefined || origin === ''
          ? VARY_ORIGIN
          : { Vary: 'Origin', 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': 'Retry-After' };
      if (!direct.sendsCorsHeaders) {
        for (const name in corsHeaders) res.setHeader(name, corsHeaders[name]!);
        corsHeaders = undefined;
      }
    }
    // Polls are requests, logged at debug only (request-log.ts): when it is off, this check is all they pay.
    if (deps.logger.isLevelEnabled('debug')) logWhenDone(deps.logger, 'debug', req, res, path);
    serve(direct, query, headers, { req, res, respond: true, corsHeaders }, path, deps);
  };
}

/**
 * Not an async function: a waiting long-poll would keep its suspended frame (generator, registers,
 * promise, about 0.5 KB) alive for the whole wait; two callbacks on the handler's promise cost less.
 */
function serve(direct: DirectRoute, query: unknown, headers: unknown, exchange: Exchange, path: string, deps: ErrorPolicy): void {
  let answered: Promise<unknown>;
  try {
    answered = direct.handle({ params: {}, query, headers, body: undefined }, exchange);
  } catch (err) {
    return failed(exchange.req, exchange.res, exchange, err, path, deps);
  }
  answered.then(
    (result) => {
      if (result !== RESPONDED) failed(exchange.req, exchange.res, exchange, new Error(`the direct route ${path} returned instead of answering`), path, deps);
    },
    (err: unknown) => failed(exchange.req, exchange.res, exchange, err, path, deps),
  );
}

/** errorMiddleware's answer, written without Koa. */
function failed(req: IncomingMessage, res: ServerResponse, exchange: Exchange, err: unknown, path: string, deps: ErrorPolicy): void {
  const e = noteFailure(err, req.method ?? 'GET', path, deps);
  // The request may have streamed already (SSE): then there is nobody to answer.
  if (exchange.respond === false || res.headersSent) return;
  const body = JSON.stringify(e.toBody());
  res.statusCode = e.status;
  // Left to the handler, which failed before writing them.
  if (exchange.corsHeaders) for (const name in exchange.corsHeaders) res.setHeader(name, exchange.corsHeaders[name]!);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  const wait = retryAfter(e);
  if (wait !== undefined) res.setHeader('Retry-After', wait);
  if (deps.isClosing()) res.setHeader('Connection', 'close');
  res.end(body);
}
