import { ADMIN_ENTRY, CLIENT_ENTRY, buildBrowserBundle } from '../build/config.js';

// The browser bundles in a checkout: the client (client/browser.ts) and the admin dashboard's
// script (client/admin/main.ts), built in memory at first request with the project's one esbuild
// configuration (server/build/config.ts), so each always matches the checkout. The server does not
// import client code: esbuild reads it from disk. The built server (`npm run build`) replaces this
// module with client-bundle-built.ts.

function bundler(entry: string): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= buildBrowserBundle(entry);
    cached.catch(() => (cached = undefined));
    return cached;
  };
}

export const clientBundle = bundler(CLIENT_ENTRY);
export const adminBundle = bundler(ADMIN_ENTRY);
