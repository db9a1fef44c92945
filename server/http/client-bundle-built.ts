import { readFile } from 'node:fs/promises';
import type { adminBundle as adminOnDemand, clientBundle as onDemand } from './client-bundle.js';

// client-bundle.ts in the built server (server/build/config.ts swaps the import): the browser
// bundles that `npm run build` wrote beside the server, each read once. Only ever run bundled, as
// dist/server/main.js or dist/bin/hubbub.js, so the paths are relative to those: dist/client/.

function reader(file: URL): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= readFile(file, 'utf8');
    cached.catch(() => (cached = undefined));
    return cached;
  };
}

export const clientBundle: typeof onDemand = reader(new URL('../client/hubbub.js', import.meta.url));
export const adminBundle: typeof adminOnDemand = reader(new URL('../client/admin.js', import.meta.url));
