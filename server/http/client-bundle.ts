import { buildBrowserBundle } from '../build/config.js';

// The browser bundle of client/ in a checkout: built in memory at first request, with the
// project's one esbuild configuration (server/build/config.ts), so it always matches the checkout. The
// server does not import client code: esbuild reads it from disk. The built server
// (`npm run build`) replaces this module with client-bundle-built.ts.

let cached: Promise<string> | undefined;

export function clientBundle(): Promise<string> {
  cached ??= buildBrowserBundle();
  cached.catch(() => (cached = undefined));
  return cached;
}
