import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The browser bundle of client/, built in memory at first request. The server does not import
 * client code: esbuild reads it from disk, so the bundle always matches the checkout.
 */
const ENTRY = fileURLToPath(new URL('../../client/browser.ts', import.meta.url));

let cached: Promise<string> | undefined;

export function clientBundle(): Promise<string> {
  cached ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // es2022 keeps #private fields native instead of WeakMap shims.
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
  }).then((r) => r.outputFiles[0]!.text);
  cached.catch(() => (cached = undefined));
  return cached;
}
