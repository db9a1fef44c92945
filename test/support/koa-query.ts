import { createRequire } from 'node:module';

/** Koa's own query parser (what `ctx.query` runs), untyped in @types/koa: the oracle of the direct route's readers. */
export const koaQuery = createRequire(import.meta.url)('koa/lib/search-params.js') as { parse(text: string): Record<string, unknown> };
