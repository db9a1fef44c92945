import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Metafile, build } from 'esbuild';
import { buildClientPackage } from './client-package.js';
import { ADMIN_ENTRY, ROOT, RUNTIME_FILES, buildBrowserBundle, serverBundleOptions } from './config.js';

// `npm run build`: the server, the `hubbub` command, the browser client and the client package
// (dist/client-package/, client-package.ts) into dist/, plus the
// files the server reads at run time (RUNTIME_FILES). Every file is written to a temporary name and renamed, so a
// server starting during a build (npm start runs one first) never reads half a file.

export interface BuildResult {
  outdir: string;
  /** Written files, relative to outdir. */
  files: string[];
  /** esbuild's metafile of the Node bundles: their inputs and the packages they import. */
  metafile: Metafile;
}

async function writeAtomic(file: string, contents: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, contents, { mode });
  await rename(temp, file);
}

/** The files of a folder (or the file itself), relative to the checkout. */
async function filesOf(path: string): Promise<string[]> {
  const full = resolve(ROOT, path);
  if (!(await stat(full)).isDirectory()) return [path];
  const entries = await readdir(full, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** RUNTIME_FILES → the same paths under outdir, dropping files no longer in the source. */
async function copyRuntimeFiles(outdir: string): Promise<string[]> {
  const copied: string[] = [];
  for (const path of RUNTIME_FILES) {
    const names = await filesOf(path);
    for (const name of names) await writeAtomic(join(outdir, name), await readFile(resolve(ROOT, name)));
    copied.push(...names);
    const target = join(outdir, path);
    if (names.length === 1 && names[0] === path) continue;
    const present = (await readdir(target, { withFileTypes: true, recursive: true })).filter((e) => e.isFile());
    // Not another build's temporary file: builds may run at once (three `npm start` of a local cluster).
    for (const e of present) {
      const name = relative(outdir, join(e.parentPath, e.name));
      if (!names.includes(name) && !name.endsWith('.tmp')) await rm(join(outdir, name), { force: true });
    }
  }
  return copied;
}

export async function buildAll(outdir = resolve(ROOT, 'dist')): Promise<BuildResult> {
  const server = await build({ ...serverBundleOptions(outdir), write: false });
  if (!server.metafile) throw new Error('esbuild returned no metafile');
  const files: string[] = [];
  for (const out of server.outputFiles) {
    const name = relative(outdir, out.path);
    // The command runs by its #! line.
    await writeAtomic(out.path, out.contents, name === 'bin/hubbub.js' ? 0o755 : 0o644);
    files.push(name);
  }
  await writeAtomic(join(outdir, 'client/hubbub.js'), await buildBrowserBundle());
  await writeAtomic(join(outdir, 'client/admin.js'), await buildBrowserBundle(ADMIN_ENTRY));
  files.push('client/hubbub.js', 'client/admin.js', ...(await copyRuntimeFiles(outdir)));
  return { outdir, files, metafile: server.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--outdir');
  const outdir = at < 0 ? undefined : resolve(process.argv[at + 1] ?? 'dist');
  const started = Date.now();
  const result = await buildAll(outdir);
  const shown = relative(process.cwd(), result.outdir) || '.';
  // `npm start` skips the client package: tsc takes seconds and the server does not need it.
  const pkg = process.argv.includes('--no-client-package') ? '' : ` and ${relative(process.cwd(), resolve(result.outdir, 'client-package'))}/`;
  if (pkg) await buildClientPackage(resolve(result.outdir, 'client-package'));
  console.log(`built ${shown}/server/main.js, ${shown}/bin/hubbub.js, ${shown}/client/hubbub.js${pkg} in ${Date.now() - started} ms`);
}
