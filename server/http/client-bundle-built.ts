import { readFile } from 'node:fs/promises';
import type { clientBundle as onDemand } from './client-bundle.js';

// client-bundle.ts in the built server (server/build/config.ts swaps the import): the browser bundle that
// `npm run build` wrote beside the server, read once. Only ever run bundled, as dist/server/main.js
// or dist/bin/hubbub.js, so the path is relative to those: dist/client/hubbub.js.

const FILE = new URL('../client/hubbub.js', import.meta.url);

let cached: Promise<string> | undefined;

export const clientBundle: typeof onDemand = () => {
  cached ??= readFile(FILE, 'utf8');
  cached.catch(() => (cached = undefined));
  return cached;
};
