import type Router from '@koa/router';
import {
  type AppRoute,
  type AppRouter,
  ContractNoBody,
  type ServerInferRequest,
  type ServerInferResponses,
  checkZodSchema,
  isAppRoute,
  validateResponse,
} from '@ts-rest/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { HubbubError, validationError } from '../errors.js';
import { readJsonBody } from './body.js';

/** Returned by a handler that wrote the response itself (SSE streams, long-polls on a raw socket). */
export const RESPONDED = Symbol('responded');

/**
 * The request and response of a handler that answers on its own: Koa's context has them, and so has
 * the direct route's (direct-route.ts). `respond = false` says the handler took the response over.
 */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  respond?: boolean | undefined;
  /**
   * The CORS headers (Vary, Access-Control-*) the direct route decided and left to a handler that
   * writes its own head (TransportCapabilities.sendsCorsHeaders). Koa's cors() sets them on the response instead.
   */
  corsHeaders?: Record<string, string> | undefined;
}

export type RouteHandler<R extends AppRoute> = (
  req: ServerInferRequest<R>,
  ctx: Context,
) => Promise<ServerInferResponses<R> | typeof RESPONDED>;

export type RouterHandlers<T extends AppRouter> = {
  [K in keyof T]: T[K] extends AppRoute ? RouteHandler<T[K]> : never;
};

export interface AdapterOptions {
  maxBodyBytes: number;
  /** Check every response against the contract (on in tests; a mismatch is a 500). */
  validateResponses?: boolean;
  /** Runs before validation, e.g. the API key check; throw a HubbubError to refuse. */
  guard?: (route: AppRoute, ctx: Context) => void;
}

/**
 * A thin ts-rest → Koa adapter: each contract route is mounted on @koa/router, its params,
 * query, headers and body are validated against the contract, and bad input becomes a
 * HubbubError (400 + zod issues, 413, 415) rendered by the error middleware.
 */
export function mountContract<T extends AppRouter>(
  router: Router,
  contract: T,
  handlers: RouterHandlers<T>,
  options: AdapterOptions,
): void {
  for (const key of Object.keys(contract) as Array<keyof T & string>) {
    const route = contract[key] as AppRoute | AppRouter;
    if (!isAppRoute(route)) throw new Error(`nested routers are not supported (${key})`);
    const handler = handlers[key] as unknown as RouteHandler<AppRoute>;
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](route.path, async (ctx) => {
      options.guard?.(route, ctx);
      const req = {
        params: parse(ctx.params, route.pathParams, 'params'),
        query: parse(ctx.query, 'query' in route ? route.query : undefined, 'query'),
        headers: parse(ctx.headers, route.headers, 'headers', true),
        // A route declared with c.noBody() takes whatever is sent and ignores it.
        body: 'body' in route && route.body !== ContractNoBody ? parse(await readJsonBody(ctx.req, options.maxBodyBytes), route.body, 'body') : undefined,
      };
      const result = await handler(req as never, ctx);
      if (result === RESPONDED) return;
      const response = result as { status: number; body?: unknown };
      const checked = options.validateResponses ? validateResponse({ appRoute: route, response }) : response;
      ctx.status = checked.status;
      // Encoded here, not by Koa after the middleware returns: a body that cannot be encoded (data stored
      // before MAX_DATA_DEPTH existed) then reaches the error middleware and answers from the table.
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(checked.body);
    });
  }
}

/** One part of a request checked against its contract schema: the parsed value, or the 400 to answer with. */
export function parse(data: unknown, schema: unknown, where: string, passThroughExtraKeys = false): unknown {
  if (!schema) return data;
  const result = checkZodSchema(data, schema, { passThroughExtraKeys });
  if (!result.success) throw validationError(result.error.issues, where);
  return result.data;
}
