import type { Middleware } from 'koa';
import { HubbubError } from '../errors.js';
import type { OriginPolicy } from '../session/origins.js';

// CORS for what pages on other origins may use: the realtime endpoints, the client publish
// endpoint and the browser bundle. Allowed origins get their own origin echoed with credentials
// (cookies may carry the token); others are refused with 403 before the request does anything.

/** `origins` is read per request: a reload may replace them. */
export function cors(origins: () => OriginPolicy, paths: readonly string[]): Middleware {
  const covered = new Set(paths);
  return async (ctx, next) => {
    if (!covered.has(ctx.path)) return next();
    // Every answer here depends on Origin, the one without it too: a shared cache must not hand
    // a response stored for a request without Origin (no CORS headers) to a page, or the reverse.
    ctx.vary('Origin');
    const origin = ctx.get('origin');
    if (origin === '') return next();
    if (!origins().allows(origin, ctx.get('host'))) {
      throw new HubbubError('forbidden', `origin ${origin} is not allowed (see allowedOrigins)`);
    }
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Allow-Credentials', 'true');
    ctx.set('Access-Control-Expose-Headers', 'Retry-After');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST');
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Last-Event-ID');
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }
    return next();
  };
}
