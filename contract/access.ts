import { z } from 'zod';

// Who may call each route, declared once in the contract as route metadata. The server's guard
// reads it (no path-prefix rules), and the OpenAPI document derives its security from it.

/** Operations an API key can be scoped to (see `apiKeys` in docs/security.md). */
export const API_OPERATIONS = ['publish', 'broadcast', 'history', 'presence', 'channels', 'info', 'users', 'admin', 'metrics'] as const;
export type ApiOperation = (typeof API_OPERATIONS)[number];
export const ApiOperation = z.enum(API_OPERATIONS);

export type RouteAccess =
  /** A backend: needs an API key whose scope includes `operation`. */
  | { readonly auth: 'apiKey'; readonly operation: ApiOperation }
  /** A client: an optional connection token (header, `token` query parameter or cookie). */
  | { readonly auth: 'connection' }
  /**
   * The admin dashboard (docs/admin.md): 404 while it is off; `session` routes need the signed
   * session cookie, and the CSRF header on every state-changing call; the login route needs neither.
   */
  | { readonly auth: 'admin'; readonly session: boolean }
  /** Anyone (documents, the dev token endpoint when it is on). */
  | { readonly auth: 'none' };

export const apiKey = (operation: ApiOperation) => ({ access: { auth: 'apiKey', operation } as RouteAccess });
export const connection = { access: { auth: 'connection' } as RouteAccess };
export const adminLogin = { access: { auth: 'admin', session: false } as RouteAccess };
export const adminSession = { access: { auth: 'admin', session: true } as RouteAccess };
export const open = { access: { auth: 'none' } as RouteAccess };

/** The access rule of a route (every route of the contract declares one; a test checks it). */
export function routeAccess(route: { metadata?: unknown }): RouteAccess | undefined {
  const meta = route.metadata as { access?: RouteAccess } | undefined;
  return meta?.access;
}
