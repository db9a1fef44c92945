// `npm run build` (issue #9): the server, the `hubbub` command and the browser client compiled
// ahead of time into dist/, run with plain node and only the runtime dependencies, so a Docker
// image can `npm ci --omit=dev` and `node dist/server/main.js`.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ENTRY, buildBrowserBundle } from '../server/build/config.js';
import { type TestBuild, buildForTest, runNode, startNode } from './support/cli-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string> };
const DENY_DEV = ['--import', './test/support/deny-dev-packages.mjs'];

function npmRunBuild(): Promise<{ code: number | null; output: string }> {
  const npm = spawn('npm', ['run', 'build'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (c: Buffer) => (output += c.toString()));
  npm.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => npm.once('close', (code) => resolve({ code, output })));
}

/** The package a bare import names: `@scope/name/sub` → `@scope/name`. */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

let build: TestBuild;
beforeAll(async () => {
  const run = await npmRunBuild();
  expect(run.code, run.output).toBe(0);
  build = await buildForTest('build-test');
}, 120_000);
afterAll(() => build?.remove());

describe('npm run build', () => {
  it('writes the server, an executable hubbub command (package.json bin) and the browser bundle to dist/', async () => {
    expect(PKG.bin).toEqual({ hubbub: 'dist/bin/hubbub.js' });
    for (const file of ['server/main.js', 'server/main.js.map', 'bin/hubbub.js', 'client/hubbub.js', 'client/admin.js', 'server/public/index.html', 'server/public/admin/index.html', 'server/public/admin/admin.css', 'docs/protocol.md']) {
      expect(statSync(`${ROOT}dist/${file}`).size, file).toBeGreaterThan(0);
    }
    expect(readFileSync(`${ROOT}dist/client/hubbub.js`, 'utf8')).toBe(await buildBrowserBundle());
    // Run as a shell would: the file itself, through its #! line.
    const direct = await new Promise<string>((resolve) => {
      const child = spawn(`${ROOT}dist/bin/hubbub.js`, ['--version'], { env: { PATH: process.env.PATH ?? '' } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', () => resolve(out));
    });
    expect(direct.trim()).toBe(PKG.version);
  });

  it('imports only node: modules and runtime dependencies, never the on-demand client builder', () => {
    const { metafile } = build.result;
    const external = Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    const builtins = new Set(builtinModules);
    const notRuntime = [...new Set(external)].filter((p) => !p.startsWith('node:') && !builtins.has(p) && !(packageOf(p) in PKG.dependencies));
    expect(notRuntime).toEqual([]);
    expect(external).toContain('koa');
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('server/http/client-bundle-built.ts');
    expect(inputs.filter((i) => i === 'server/http/client-bundle.ts' || i.startsWith('server/build/'))).toEqual([]);
  });

  it('serves /health, the demo, the API docs, the admin dashboard and the browser bundles from dist/ with no development package loadable', async () => {
    const server = await startNode(['dist/server/main.js', '--port', '0', '--host', '127.0.0.1'], { HUBBUB_API_KEY: 'build-test-key-0123456789', HUBBUB_ADMIN_PASSWORD: 'build-test-admin-password' }, DENY_DEV);
    try {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string; version: string };
      expect(health).toMatchObject({ status: 'ok', version: PKG.version });
      const bundle = await fetch(`${server.url}/client/hubbub.js`);
      expect(bundle.status).toBe(200);
      expect(await bundle.text()).toBe(await buildBrowserBundle());
      expect(await (await fetch(`${server.url}/`)).text()).toBe(readFileSync(`${ROOT}server/public/index.html`, 'utf8'));
      expect(await (await fetch(`${server.url}/admin/admin.js`)).text()).toBe(await buildBrowserBundle(ADMIN_ENTRY));
      for (const path of ['/docs', '/docs/assets/swagger-ui-bundle.js', '/openapi.json', '/asyncapi.json', '/docs/protocol.md', '/favicon.ico', '/demo.js', '/admin/', '/admin/admin.css']) {
        expect((await fetch(server.url + path)).status, path).toBe(200);
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.output()).not.toMatch(/development package/);
  });

  it('the development-package guard does refuse esbuild and tsx (so the check above can fail)', async () => {
    for (const pkg of ['esbuild', 'tsx']) {
      const ran = await runNode(['--input-type=module', '-e', `await import('${pkg}')`], { nodeFlags: DENY_DEV });
      expect(ran.code).not.toBe(0);
      expect(ran.stderr).toContain(`development package imported at run time: ${pkg}`);
    }
  });
});
