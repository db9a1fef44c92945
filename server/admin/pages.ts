import { readFile } from 'node:fs/promises';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { HubbubError } from '../errors.js';
import { sourceFile } from '../http/source-files.js';
import { TYPES, asset, send } from '../http/static.js';

// The dashboard's three files: the page and its stylesheet from server/public/admin/, and its
// script bundled from client/admin/ (typed against the contract). 404 while the dashboard is off.
// No inline script or style, so the page runs under a strict Content-Security-Policy.

const DIR = sourceFile('server/public/admin/');

const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export interface AdminPagesDeps {
  /** Read per request: a reload may turn the dashboard on or off. */
  enabled: () => boolean;
  bundle: () => Promise<string>;
}

export function mountAdminPages(router: Router, deps: AdminPagesDeps): void {
  const on = (ctx: Context) => {
    if (!deps.enabled()) throw new HubbubError('not_found', `no endpoint at ${ctx.method} ${ctx.path}`);
  };
  const page = async (ctx: Context) => {
    on(ctx);
    ctx.set(PAGE_HEADERS);
    send(ctx, asset(await readFile(`${DIR}index.html`), TYPES['.html']!), 'no-cache');
  };
  router.get('/admin', page);
  router.get('/admin/', page);
  router.get('/admin/admin.css', async (ctx) => {
    on(ctx);
    send(ctx, asset(await readFile(`${DIR}admin.css`), TYPES['.css']!), 'no-cache');
  });
  let built: { source: string; asset: ReturnType<typeof asset> } | undefined;
  router.get('/admin/admin.js', async (ctx) => {
    on(ctx);
    const source = await deps.bundle();
    if (built?.source !== source) built = { source, asset: asset(source, TYPES['.js']!) };
    send(ctx, built.asset, 'no-cache');
  });
}
