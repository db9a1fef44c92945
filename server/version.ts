import { readFileSync } from 'node:fs';

// The package's version, from the nearest package.json above this module: server/ in a checkout,
// dist/server/ or dist/bin/ once built (npm run build bundles this module into those).
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'hubbub') return pkg.version;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (dir.pathname === '/') throw new Error('no package.json of hubbub above server/version');
  }
}

export const VERSION: string = packageVersion();
