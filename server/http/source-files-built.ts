import { fileURLToPath } from 'node:url';
import type { sourceFile as inCheckout } from './source-files.js';

// source-files.ts in the built server (server/build/config.ts swaps the import): the files a node
// reads at run time, as `npm run build` copied them under dist/ (RUNTIME_FILES). Only ever run
// bundled, as dist/server/main.js or dist/bin/hubbub.js, so dist/ is one folder up.

export const sourceFile: typeof inCheckout = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
