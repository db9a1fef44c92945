import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { buildOpenApi } from '../../contract/openapi.js';
import { staticCompression } from './compression.js';

/**
 * The non-API pages: the OpenAPI document, its Swagger UI at /docs, the browser client bundle and
 * the demo. Every URL is registered from a fixed list, and files are read from fixed names only:
 * no request path is ever joined to a directory, so there is nothing to traverse.
 */
export interface StaticDeps {
  clientBundle: () => Promise<string>;
}

export const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Swagger UI files are versioned with the install; the demo and the bundle change with the checkout. */
const CACHE_IMMUTABLE = 'public, max-age=86400';
const CACHE_REVALIDATE = 'no-cache';

/** The files of swagger-ui-dist that /docs uses; nothing else of the package is reachable. */
const SWAGGER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png'] as const;

// server/public in a checkout; bundled into dist/server/main.js, dist/public (npm run build copies it there).
const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Hubbub API</title>
  <link rel="icon" type="image/png" sizes="32x32" href="/docs/assets/favicon-32x32.png">
  <link rel="icon" type="image/png" sizes="16x16" href="/docs/assets/favicon-16x16.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

/** A file rather than an inline script, so a strict Content-Security-Policy can allow 'self' only. */
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

interface Asset {
  body: string | Buffer;
  type: string;
  etag: string;
}

export function asset(body: string | Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/** Sends with an ETag and answers 304 when the client already has this version. */
export function send(ctx: Context, a: Asset, cacheControl: string): void {
  ctx.status = 200;
  ctx.type = a.type;
  ctx.etag = a.etag;
  ctx.set('Cache-Control', cacheControl);
  ctx.set('X-Content-Type-Options', 'nosniff');
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = a.body;
}

function typeOf(name: string): string {
  const type = TYPES[extname(name)];
  if (!type) throw new Error(`no content type for ${name}`);
  return type;
}

/** Loads once; a failed load is retried on the next request instead of being cached. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let cached: Promise<T> | undefined;
  return () => {
    cached ??= load();
    cached.catch(() => (cached = undefined));
    return cached;
  };
}

export function mountStatic(router: Router, deps: StaticDeps): void {
  // Every static route is compressed (gzip or br per Accept-Encoding); the other routes never are.
  const compressed = staticCompression();
  const get = (path: string, handler: Middleware) => router.get(path, compressed, handler);
  const openApi = once(async () => asset(`${JSON.stringify(buildOpenApi(), null, 2)}\n`, TYPES['.json']!));
  get('/openapi.json', async (ctx) => send(ctx, await openApi(), CACHE_REVALIDATE));

  const docsPage = asset(DOCS_HTML, TYPES['.html']!);
  const docsInit = asset(DOCS_INIT, TYPES['.js']!);
  get('/docs', (ctx) => send(ctx, docsPage, CACHE_REVALIDATE));
  get('/docs/assets/init.js', (ctx) => send(ctx, docsInit, CACHE_REVALIDATE));

  const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  for (const name of SWAGGER_FILES) {
    const load = once(async () => asset(await readFile(join(swaggerDir, name)), typeOf(name)));
    get(`/docs/assets/${name}`, async (ctx) => send(ctx, await load(), CACHE_IMMUTABLE));
  }

  // The bundle is built (and cached) by deps; only its ETag is computed here, once per distinct build.
  let bundle: { source: string; asset: Asset } | undefined;
  get('/client/hubbub.js', async (ctx) => {
    const source = await deps.clientBundle();
    if (bundle?.source !== source) bundle = { source, asset: asset(source, TYPES['.js']!) };
    send(ctx, bundle.asset, CACHE_REVALIDATE);
  });

  // The demo: the files present in server/public at start, each on its own fixed route.
  // Read on every request so editing the demo needs no restart; the ETag still saves the transfer.
  for (const entry of readdirSync(PUBLIC_DIR, { withFileTypes: true })) {
    const name = entry.name;
    if (!entry.isFile() || !/^[\w-]+(\.[\w-]+)*$/.test(name) || !(extname(name) in TYPES)) continue;
    const file = join(PUBLIC_DIR, name);
    const route = name === 'index.html' ? '/' : `/${name}`;
    get(route, async (ctx) => send(ctx, asset(await readFile(file), typeOf(name)), CACHE_REVALIDATE));
  }
}
