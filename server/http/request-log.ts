import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import { scrub } from '../log-format.js';
import type { Logger } from '../logger.js';

// One line per plain HTTP request: method, route pattern, path (never the query: it may carry a
// token), status, duration and the proxy's request id. The realtime transports' GETs and the probes
// are logged at debug, not info: every long-poll client sends one every 25 s, an SSE stream has its
// own connection lines (session layer), and an orchestrator probes every few seconds; at info
// they would bury the API requests.

export type RequestLevel = 'debug' | 'info';

/** The request id a proxy or load balancer set (nginx `$request_id`), bounded: it is the client's text. */
function requestId(req: IncomingMessage): string | undefined {
  const id = req.headers['x-request-id'];
  return typeof id === 'string' && id !== '' ? id.slice(0, 128) : undefined;
}

function fields(req: IncomingMessage, res: ServerResponse, route: string | undefined, path: string, status: number, start: number): Record<string, unknown> {
  return {
    method: req.method,
    route,
    path: scrub(path.length > 256 ? `${path.slice(0, 256)}…` : path),
    status,
    durationMs: Math.round((performance.now() - start) * 10) / 10,
    // The client hung up before the answer was complete (an abandoned poll, a closed stream).
    aborted: res.writableFinished ? undefined : true,
    reqId: requestId(req),
  };
}

/**
 * Logs a request that writes its own response (the direct route): the caller asks the level first,
 * so a request whose line is filtered out costs one level check and nothing more.
 */
export function logWhenDone(logger: Logger, level: RequestLevel, req: IncomingMessage, res: ServerResponse, route: string): void {
  const start = performance.now();
  res.once('close', () => logger[level]('request', fields(req, res, route, route, res.statusCode, start)));
}

/** Koa's request line, written when the response is done, so it has the status the error middleware chose. */
export function requestLog(logger: Logger, quietPaths: readonly string[]): Middleware {
  const quiet = new Set(quietPaths);
  return (ctx, next) => {
    const level: RequestLevel = quiet.has(ctx.path) ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) return next();
    const start = performance.now();
    ctx.res.once('close', () => {
      // @koa/router leaves the matched pattern on the context; none for a 404.
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      logger[level]('request', fields(ctx.req, ctx.res, typeof matched === 'string' ? matched : undefined, ctx.path, ctx.res.statusCode, start));
    });
    return next();
  };
}
