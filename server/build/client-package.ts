import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ROOT, clientPackageOptions } from './config.js';

// The client package (`@hubbub/client`, client/package.json) into dist/client-package/: the JS from
// the project's one esbuild configuration (clientPackageOptions), the .d.ts from tsc
// (tsconfig.client-package.json: esbuild emits no types), the manifest and its README. `npm pack`
// in that folder makes the tarball; users need no TypeScript.

export const CLIENT_PACKAGE_DIR = resolve(ROOT, 'dist/client-package');

interface Manifest {
  version?: string;
  dependencies?: Record<string, string>;
}

const readJson = async (path: string): Promise<Manifest> => JSON.parse(await readFile(path, 'utf8')) as Manifest;

/** The package's dependencies are the versions the project itself runs and tests: a mismatch fails the build. */
async function manifest(): Promise<Manifest> {
  const pkg = await readJson(resolve(ROOT, 'client/package.json'));
  const root = await readJson(resolve(ROOT, 'package.json'));
  for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
    const ours = root.dependencies?.[name];
    if (ours !== version) throw new Error(`client/package.json wants ${name}@${version}, the project uses ${ours ?? 'none'}`);
  }
  return { ...pkg, version: root.version };
}

export async function buildClientPackage(outdir = CLIENT_PACKAGE_DIR): Promise<string[]> {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({ ...clientPackageOptions(outdir), write: false });
  const files: string[] = [];
  for (const out of result.outputFiles) {
    await mkdir(dirname(out.path), { recursive: true });
    await writeFile(out.path, out.contents);
    files.push(relative(outdir, out.path));
  }
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const declarations = join(outdir, 'types');
  await promisify(execFile)(process.execPath, [tsc, '-p', resolve(ROOT, 'tsconfig.client-package.json'), '--declarationDir', declarations], { cwd: ROOT });
  await writeFile(join(outdir, 'package.json'), `${JSON.stringify(await manifest(), null, 2)}\n`);
  await writeFile(join(outdir, 'README.md'), await readFile(resolve(ROOT, 'client/README.md')));
  return [...files, 'types/', 'package.json', 'README.md'];
}
