import type { Middleware } from 'koa';
import { HubbubError, toHubbubError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SampledLog } from '../log-sampler.js';

// Every failure of a plain HTTP request leaves through here as the contract's error body, with
// the table's status, and `Retry-After` when the error says when to come back. A client's
// mistakes are counted and sampled into the log; a server fault (`internal`) is always logged.
// Koa's requests go through errorMiddleware, the direct route's (direct-route.ts) through
// failedRequest: one policy, two doors.

export interface ErrorPolicy {
  logger: Logger;
  clientErrors: SampledLog;
  isClosing(): boolean;
}

/** Logs or counts a failed request; returns the contract error to answer with. */
export function noteFailure(err: unknown, method: string, path: string, deps: ErrorPolicy): HubbubError {
  const e = toHubbubError(err);
  if (e.code === 'internal') deps.logger.warn(`${method} ${path} failed`, err);
  else deps.clientErrors.warn(`http:${e.code}`, `${method} ${path}: ${e.code}`);
  return e;
}

/** The Retry-After header value for an error that says when to come back. */
export function retryAfter(e: HubbubError): string | undefined {
  return e.retryAfterMs === undefined ? undefined : String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
}

export function errorMiddleware(deps: ErrorPolicy): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Nothing answered: not a route of ours (405s are thrown by allowedMethods).
      if (ctx.status === 404 && ctx.body == null && ctx.respond !== false) {
        throw new HubbubError('not_found', `no endpoint at ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const e = noteFailure(err, ctx.method, ctx.path, deps);
      // The request may have streamed already (SSE): then there is nobody to answer.
      if (ctx.respond === false || ctx.res.headersSent) return;
      ctx.status = e.status;
      ctx.body = e.toBody();
      const wait = retryAfter(e);
      if (wait !== undefined) ctx.set('Retry-After', wait);
    }
    // A kept-alive socket that was busy when stop() closed the idle ones would otherwise carry the
    // client's retries (503s) for as long as it keeps retrying, and hold server.close() open.
    if (deps.isClosing()) ctx.set('Connection', 'close');
  };
}
