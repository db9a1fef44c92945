import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildClientPackage } from '../server/build/client-package.js';
import { ROOT } from '../server/build/config.js';
import { README } from '../docs/generate-config.js';
import { TEST_API_KEY, startServer } from './support/server.js';

// The client as a user gets it: `npm pack` of dist/client-package/, installed into an empty folder,
// then the README's Node snippets run by plain `node` against a real server, and a TypeScript
// consumer typechecked against the installed declarations. Offline and hermetic: the package's
// dependencies are packed from this checkout's node_modules (the versions it tests) and npm runs
// with --offline and an empty cache, so a dependency it would fetch fails the install instead.

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: { ...process.env, npm_config_cache: join(cwd, '.npm-cache') } });

/** The README's fenced ```js block that imports `from`, with the documentation's server URL replaced. */
function snippet(from: string, url: string): string {
  const readme = readFileSync(README, 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes(`from '${from}'`));
  if (!block) throw new Error(`README.md has no js block importing ${from}`);
  return block.replaceAll('http://localhost:8080', url);
}
/** A package and the packages it depends on, from node_modules, as file paths (peers left to the user). */
function closure(names: string[], seen = new Set<string>()): string[] {
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const manifest = require(join(ROOT, 'node_modules', name, 'package.json')) as { dependencies?: Record<string, string> };
    closure(Object.keys(manifest.dependencies ?? {}), seen);
  }
  return [...seen].map((name) => join(ROOT, 'node_modules', name));
}

let work: string;
let app: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hubbub-client-package-'));
  app = join(work, 'app');
  const pkgDir = join(work, 'client-package');
  await buildClientPackage(pkgDir);
  const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const tarballs: string[] = [];
  for (const dir of [pkgDir, ...closure(Object.keys(manifest.dependencies))]) {
    // --ignore-scripts: packing a folder of node_modules must never run its prepare script.
    const { stdout } = await npm(['pack', dir, '--ignore-scripts', '--pack-destination', work, '--json'], work);
    tarballs.push(join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename));
  }
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await npm(['install', '--offline', '--ignore-scripts', '--no-package-lock', ...tarballs], app);
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function started(child: ChildProcess): { out: () => string } {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { out: () => out };
}

describe('the client package', () => {
  it("runs the README's Node subscriber and publisher with plain node: the publication arrives", async () => {
    await using srv = await startServer();
    await writeFile(join(app, 'subscriber.mjs'), snippet('@hubbub/client', srv.url));
    await writeFile(join(app, 'publisher.mjs'), snippet('@hubbub/client/publisher', srv.url));
    const { HUBBUB_TOKEN: _none, ...env } = process.env;
    const sub = spawn(process.execPath, ['subscriber.mjs'], { cwd: app, env });
    const output = started(sub);
    try {
      await vi.waitFor(() => expect(output.out()).toMatch(/subscribed over (sse|websocket|poll)/), { timeout: 30_000, interval: 50 });
      await run(process.execPath, ['publisher.mjs'], { cwd: app, env: { ...process.env, HUBBUB_API_KEY: TEST_API_KEY } });
      await vi.waitFor(() => expect(output.out()).toContain('received 1 {"text":"hello from the backend"}'), { timeout: 30_000, interval: 50 });
      // Node 20 has no WebSocket and the snippet passes none: the eventsource package carried SSE.
      expect(output.out()).toContain('subscribed over sse');
    } finally {
      sub.kill();
    }
  }, 90_000);

  it('resolves "." to the zod-free realtime client in Node and in browsers, and "./publisher" to the publisher', async () => {
    const probe = `
      const node = await import('@hubbub/client');
      const pub = await import('@hubbub/client/publisher');
      console.log(JSON.stringify({ node: typeof node.Hubbub, publisher: typeof pub.createPublisher, same: node.HubbubError === (await import('@hubbub/client')).HubbubError }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ node: 'function', publisher: 'function', same: true });
    const pkg = join(app, 'node_modules/@hubbub/client');
    const exports = (JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> }).exports;
    const browser = await readFile(join(pkg, exports['.']!.browser!), 'utf8');
    expect(browser).not.toMatch(/from\s*["'](zod|@ts-rest\/core|eventsource)["']/);
  });

  it("bundles the README's browser snippet with a bundler from the installed package: the browser build, no Node code, no dependency", async () => {
    const readme = readFileSync(README, 'utf8');
    const html = /```html\n<script type="module">\n([\s\S]*?)<\/script>\n```/.exec(readme)?.[1];
    expect(html, 'README.md has the browser snippet').toBeDefined();
    // As its comment says: with a bundler, the import names the package instead of the server's URL.
    const source = html!.replace("from 'http://localhost:8080/client/hubbub.js'", "from '@hubbub/client'");
    expect(source).toContain("from '@hubbub/client'");
    await writeFile(join(app, 'page.mjs'), source);
    const { build } = await import('esbuild');
    const result = await build({ entryPoints: [join(app, 'page.mjs')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm', target: 'es2022', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('node_modules/@hubbub/client/browser.js');
    // Only the package itself: no zod, ts-rest or eventsource, and nothing built for Node.
    expect(inputs.filter((i) => i.startsWith('node_modules/') && !i.startsWith('node_modules/@hubbub/client/'))).toEqual([]);
    expect(inputs.filter((i) => /node\.js$|publisher/.test(i))).toEqual([]);
  }, 60_000);

  it('typechecks a TypeScript consumer against the installed declarations', async () => {
    await writeFile(
      join(app, 'consumer.ts'),
      `import { Hubbub, HubbubError, type Publication } from '@hubbub/client';
import { createPublisher, type PublishResult } from '@hubbub/client/publisher';
const hub = new Hubbub('http://localhost:8080', { autoConnect: false, getToken: async () => 'jwt' });
const offsets: number[] = [];
hub.subscribe('chat:lobby', { onPublication: (p: Publication) => offsets.push(p.offset) });
hub.on('error', (e) => (e instanceof HubbubError ? e.code.toUpperCase() : e.message));
const publisher = createPublisher({ url: 'http://localhost:8080', apiKey: 'key' });
export const sent: Promise<PublishResult> = publisher.publish('chat:lobby', { text: 'hi' });
// @ts-expect-error the data argument is required
void publisher.publish('chat:lobby');
// @ts-expect-error the transport names are checked
new Hubbub('http://localhost:8080', { transports: ['carrier-pigeon'] });
`,
    );
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, lib: ['ES2023', 'DOM'], types: [], skipLibCheck: false, noEmit: true },
        files: ['consumer.ts'],
      }),
    );
    const tsc = resolve(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    );
    expect(result).toBe('');
  }, 60_000);
});
