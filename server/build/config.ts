import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, type Plugin, build } from 'esbuild';

// The one esbuild configuration of the project: the browser bundles (the client served at
// /client/hubbub.js and the admin dashboard's script, built on demand by the server in a checkout
// and ahead of time by `npm run build`), the client package, and the Node bundles of the server
// and the `hubbub` command (dist/).

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The browser bundles' entries: the client, and the admin dashboard's script. */
export const CLIENT_ENTRY = resolve(ROOT, 'client/browser.ts');
export const ADMIN_ENTRY = resolve(ROOT, 'client/admin/main.ts');

/** The browser bundles: one minified ES module each, the same bytes whether served from a checkout or from dist/. */
export const BROWSER_BUNDLE: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // es2022 keeps #private fields native instead of WeakMap shims.
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'silent',
};

/**
 * Modules a checkout uses that the built server replaces. client-bundle.ts builds the browser
 * bundle with esbuild on first request; the built server reads the one `npm run build` wrote, so
 * neither esbuild nor tsx is needed at run time (`npm ci --omit=dev`).
 */
const BUILT_REPLACEMENTS: Record<string, string> = {
  'server/http/client-bundle.ts': 'server/http/client-bundle-built.ts',
  'server/http/source-files.ts': 'server/http/source-files-built.ts',
};

/** What the server reads from disk at run time (server/http/source-files.ts), copied by the build to the same paths under dist/. */
export const RUNTIME_FILES = ['server/public', 'docs/protocol.md'] as const;

const replaceForBuild: Plugin = {
  name: 'hubbub-built-replacements',
  setup(build) {
    build.onResolve({ filter: /^\./ }, (args) => {
      const source = relative(ROOT, resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')));
      const replacement = BUILT_REPLACEMENTS[source];
      return replacement === undefined ? undefined : { path: resolve(ROOT, replacement) };
    });
  },
};

/**
 * The server (`node dist/server/main.js`, what `npm start` runs) and the command line
 * (`dist/bin/hubbub.js`). Both sit one folder below dist/, as server/ sits below the checkout, so a
 * path relative to a bundled module (`../public/`) finds what the build copied into dist/.
 * Packages stay external: node_modules is used at run time, as in a checkout.
 */
export function serverBundleOptions(outdir: string): BuildOptions {
  return {
    entryPoints: [
      { in: resolve(ROOT, 'server/main.ts'), out: 'server/main' },
      { in: resolve(ROOT, 'server/cli/hubbub.ts'), out: 'bin/hubbub' },
    ],
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
    absWorkingDir: ROOT,
    plugins: [replaceForBuild],
    metafile: true,
    logLevel: 'silent',
  };
}

/**
 * The client as an npm package (dist/client-package/, see client/package.json): the realtime
 * client for browsers (client/browser.ts) and for Node (client/index.ts, SSE over `eventsource`),
 * and the typed publisher (client/publisher.ts, ts-rest and zod). Split into shared chunks, so one
 * HubbubError class serves every entry; packages stay imports, installed as the package's dependencies.
 */
export function clientPackageOptions(outdir: string): BuildOptions {
  return {
    entryPoints: [
      { in: CLIENT_ENTRY, out: 'browser' },
      { in: resolve(ROOT, 'client/index.ts'), out: 'node' },
      { in: resolve(ROOT, 'client/publisher.ts'), out: 'publisher' },
    ],
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    packages: 'external',
    legalComments: 'none',
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'silent',
  };
}

/** A browser bundle's code (the client's by default), built in memory. */
export async function buildBrowserBundle(entry = CLIENT_ENTRY): Promise<string> {
  const result = await build({ ...BROWSER_BUNDLE, entryPoints: [entry], write: false });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${relative(ROOT, entry)}`);
  return file.text;
}
