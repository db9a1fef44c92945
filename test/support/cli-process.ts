import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type BuildResult, buildAll } from '../../server/build/build.js';
import { untilListening } from './main-process.js';

// The built `hubbub` command and server, run as a user would: `node <dist>/bin/hubbub.js …`.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A fresh build in its own folder under .tmp/ (inside the checkout, so node_modules resolves as
 * from dist/), apart from dist/, which `npm start` and test/build.test.ts rebuild meanwhile.
 */
export async function buildForTest(name: string): Promise<TestBuild> {
  const dir = `${ROOT}.tmp/${name}-${process.pid}`;
  const result = await buildAll(dir);
  return { dir, result, bin: `${dir}/bin/hubbub.js`, main: `${dir}/server/main.js`, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestBuild {
  dir: string;
  result: BuildResult;
  bin: string;
  main: string;
  remove(): Promise<void>;
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to its end with exactly `env` (plus PATH) and `input` on stdin. */
export function runNode(args: string[], opts: { env?: Record<string, string>; input?: string; nodeFlags?: string[] } = {}): Promise<Ran> {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export interface Running {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a server script and resolves once it listens. */
export async function startNode(args: string[], env: Record<string, string>, nodeFlags: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [...nodeFlags, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { port, output } = await untilListening(child, args.join(' '));
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
