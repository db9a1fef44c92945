import type { AppRoute } from '@ts-rest/core';
import type { Context } from 'koa';
import { routeAccess } from '../../contract/index.js';
import { type AdminAuth, admitAdmin } from '../admin/auth.js';
import { HubbubError } from '../errors.js';
import type { ApiCaller, ApiKeys } from '../session/api-keys.js';
import type { Sessions } from '../session/sessions.js';

// Who may call a route is declared once, as route metadata in the contract (contract/access.ts);
// this guard reads it. API-key routes get their caller here; client routes open a session in
// their transport or handler, which checks the connection token.

/** `apiKeys` and `admin` are read per request: a reload may replace them. */
export function accessGuard(deps: { apiKeys: () => ApiKeys; sessions: Sessions; admin: () => AdminAuth }) {
  return (route: AppRoute, ctx: Context): void => {
    const access = routeAccess(route);
    if (!access) throw new Error(`the contract route ${route.method} ${route.path} declares no access rule`);
    if (access.auth === 'admin') return admitAdmin(deps.admin(), ctx, access.session);
    if (access.auth !== 'apiKey') return;
    deps.sessions.assertMayTry(ctx.req);
    const header = ctx.get('authorization') || undefined;
    const caller = deps.apiKeys().authenticate(header);
    if (!caller) {
      // A request without any key is not a guess: only wrong keys count towards the address's limit.
      if (header !== undefined) deps.sessions.apiKeyFailed(ctx.req);
      throw new HubbubError('unauthorized');
    }
    const missing = caller.missingOperation(access.operation);
    if (missing) throw new HubbubError('forbidden', missing);
    ctx.state['caller'] = caller;
  };
}

/** The API caller the guard admitted (API-key routes only). */
export function apiCaller(ctx: Context): ApiCaller {
  const caller = ctx.state['caller'] as ApiCaller | undefined;
  if (!caller) throw new Error('apiCaller() on a route the guard did not admit with an API key');
  return caller;
}
