import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/*
 * The one Node-only file of client/: it bundles client/browser.ts for browsers, with the options of
 * the bundle the server serves (server/http/client-bundle.ts), so the size test measures what
 * browsers get; `tsx client/build.ts` writes client/dist/hubbub.js for inspection.
 */

const here = dirname(fileURLToPath(import.meta.url));

export async function buildBrowserBundle(): Promise<string> {
  const result = await build({
    entryPoints: [resolve(here, 'browser.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // As served: es2022 keeps #private fields native instead of WeakMap shims.
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for client/browser.ts');
  return file.text;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const code = await buildBrowserBundle();
  const out = resolve(here, 'dist/hubbub.js');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, code);
  console.log(`${out}: ${code.length} bytes`);
}
