import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { buildAsyncApi } from '../../contract/asyncapi.js';
import { ASYNCAPI_URL, CODES_TAG, PROTOCOL_GUIDE_URL, buildOpenApi } from '../../contract/openapi.js';
import { staticCompression } from './compression.js';
import { sourceFile } from './source-files.js';

/**
 * The non-API pages: the OpenAPI and AsyncAPI documents, Swagger UI at /docs, the protocol guide,
 * the favicon, the browser client bundle and the demo. Every URL is registered from a fixed list,
 * and files are read from fixed names only: no request path is ever joined to a directory, so there
 * is nothing to traverse.
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

// Markdown as text/plain: browsers show it (Firefox offers text/markdown as a download), and no
// Markdown renderer is installed to serve it as HTML.
const MARKDOWN_TYPE = 'text/plain; charset=utf-8';

/** Swagger UI files are versioned with the install; the demo and the bundle change with the checkout. */
const CACHE_IMMUTABLE = 'public, max-age=86400';
const CACHE_REVALIDATE = 'no-cache';

/** The files of swagger-ui-dist that /docs uses; nothing else of the package is reachable. */
const SWAGGER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;

const PUBLIC_DIR = sourceFile('server/public/');
const PROTOCOL_MD = sourceFile('docs/protocol.md');
/** Linked by the demo and /docs; browsers ask /favicon.ico of every other page, so it answers too. */
const FAVICON = join(PUBLIC_DIR, 'favicon.svg');

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Hubbub API</title>
  <link rel="icon" type="image/svg+xml" href="/favicon.svg">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="stylesheet" href="/docs/assets/hubbub.css">
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

/**
 * The code tables are the description of a tag without operations (contract/openapi.ts), which Swagger UI
 * squeezes beside the tag's name in its header: stack them under it, without the empty section's toggle.
 */
const CODES_HEADER = `#operations-tag-${CODES_TAG.replace(/ /g, '_')}`;
const DOCS_CSS = `${CODES_HEADER} { flex-direction: column; align-items: flex-start; cursor: default; }
${CODES_HEADER} > small { flex: none; padding: 0; font-size: 14px; }
${CODES_HEADER} th, ${CODES_HEADER} td { padding: 2px 12px 2px 0; text-align: left; }
${CODES_HEADER} > button { display: none; }
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
  const asyncApi = once(async () => asset(`${JSON.stringify(buildAsyncApi(), null, 2)}\n`, TYPES['.json']!));
  get(ASYNCAPI_URL, async (ctx) => send(ctx, await asyncApi(), CACHE_REVALIDATE));
  const protocolGuide = once(async () => asset(await readFile(PROTOCOL_MD), MARKDOWN_TYPE));
  get(PROTOCOL_GUIDE_URL, async (ctx) => send(ctx, await protocolGuide(), CACHE_REVALIDATE));
  get('/favicon.ico', async (ctx) => send(ctx, asset(await readFile(FAVICON), TYPES['.svg']!), CACHE_REVALIDATE));

  const docsPage = asset(DOCS_HTML, TYPES['.html']!);
  const docsInit = asset(DOCS_INIT, TYPES['.js']!);
  get('/docs', (ctx) => send(ctx, docsPage, CACHE_REVALIDATE));
  get('/docs/assets/init.js', (ctx) => send(ctx, docsInit, CACHE_REVALIDATE));
  const docsCss = asset(DOCS_CSS, TYPES['.css']!);
  get('/docs/assets/hubbub.css', (ctx) => send(ctx, docsCss, CACHE_REVALIDATE));

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
