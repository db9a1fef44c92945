import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Metafile, build } from 'esbuild';
import { ADMIN_ENTRY, ROOT, buildBrowserBundle, serverBundleOptions } from './config.js';

// `npm run build`: the server, the `hubbub` command and the browser client into dist/, plus the
// demo's files the server reads. Every file is written to a temporary name and renamed, so a
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

/** server/public → outdir/public (subfolders too: the admin dashboard's), dropping files no longer in the source. */
async function copyPublic(outdir: string): Promise<string[]> {
  const from = resolve(ROOT, 'server/public');
  const to = join(outdir, 'public');
  const files = async (dir: string) =>
    (await readdir(dir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
  const names = await files(from);
  for (const name of names) await writeAtomic(join(to, name), await readFile(join(from, name)));
  // Not another build's temporary file: builds may run at once (three `npm start` of a local cluster).
  for (const stale of await files(to)) if (!names.includes(stale) && !stale.endsWith('.tmp')) await rm(join(to, stale), { force: true });
  return names.map((n) => `public/${n}`);
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
  files.push('client/hubbub.js', 'client/admin.js', ...(await copyPublic(outdir)));
  return { outdir, files, metafile: server.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--outdir');
  const outdir = at < 0 ? undefined : resolve(process.argv[at + 1] ?? 'dist');
  const started = Date.now();
  const result = await buildAll(outdir);
  const shown = relative(process.cwd(), result.outdir) || '.';
  console.log(`built ${shown}/server/main.js, ${shown}/bin/hubbub.js and ${shown}/client/hubbub.js in ${Date.now() - started} ms`);
}
