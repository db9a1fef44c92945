import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

async function waitFor(output: () => string, pattern: RegExp, child: ChildProcess): Promise<RegExpExecArray> {
  for (;;) {
    const m = pattern.exec(output());
    if (m) return m;
    if (child.exitCode !== null) throw new Error(`exited early: ${output()}`);
    await new Promise((r) => child.stdout!.once('data', r));
  }
}

describe('server/main.ts (npm start)', () => {
  it('stops with exit code 2 and names the bad setting', async () => {
    const p = run(['--port', 'abc']);
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/invalid setting --port="abc"/);
  });

  it('prints a generated API key once, accepts it, and exits cleanly on SIGTERM', async () => {
    const p = run(['--port', '0', '--host', '127.0.0.1']);
    const [, port] = await waitFor(p.output, /listening on http:\/\/127\.0\.0\.1:(\d+)/, p.child);
    const [, key] = await waitFor(p.output, /generated API key for this run: (\S+)/, p.child);
    const ok = await fetch(`http://127.0.0.1:${port}/api/info`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output().match(/generated API key/g)).toHaveLength(1);
  });

  it('does not print a key that was configured', async () => {
    const p = run(['--port', '0', '--host', '127.0.0.1'], { HUBBUB_API_KEY: 'configured-key-123456' });
    await waitFor(p.output, /listening on/, p.child);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(p.output()).not.toContain('configured-key-123456');
  });
});
