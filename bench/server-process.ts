import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from '../server/build/build.js';
import { ROOT } from '../server/build/config.js';
import type { MainProcess } from '../test/support/main-process.js';

export interface ServerProcess extends MainProcess {
  apiKey: string;
}

/**
 * Thousands of clients from one loopback address: the per-address limits are lifted for the load,
 * as an operator would for a load test (the defaults guard a public server against one abuser).
 */
export const LOAD_TEST_LIMITS = {
  HUBBUB_LIMIT_CONNECTION_RATE: '1000000',
  HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1000000',
  HUBBUB_LIMIT_COMMANDS: '1000000',
};

/** The bench measures the server as `npm start` runs it: built once per bench run, then plain node. */
const BUILT = resolve(ROOT, '.tmp/bench-dist');
let built: Promise<string> | undefined;
const builtMain = () => (built ??= buildAll(BUILT).then(() => resolve(BUILT, 'server/main.js')));
const FLOOR = fileURLToPath(new URL('./floor-server.ts', import.meta.url));
const LISTENING = /listening on http:\/\/[^:\s]+:(\d+)/;

/**
 * How processes the bench starts get their file-descriptor limit: 20,000 connections need more
 * than the usual 1,024, and it is the bench's job to raise it, not the server's. Asks `prlimit`
 * for `want`; where that is refused (no CAP_SYS_RESOURCE), raises the soft limit to the hard one.
 */
export interface FdLimit {
  /** Command prefix that starts a program with the limit (empty: it already has it). */
  prefix: string[];
  limit: number;
  note: string;
}

export function fdLimit(want: number): FdLimit {
  const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim();
  const soft = Number(sh('ulimit -n'));
  if (soft >= want) return { prefix: [], limit: soft, note: `fd limit ${soft}` };
  if (spawnSync('prlimit', [`--nofile=${want}:${want}`, 'true']).status === 0) {
    return { prefix: ['prlimit', `--nofile=${want}:${want}`, '--'], limit: want, note: `fd limit raised to ${want} with prlimit` };
  }
  const hardText = sh('ulimit -Hn');
  const hard = hardText === 'unlimited' ? want : Number(hardText);
  const note = `fd limit ${hard}: raising it to ${want} was refused (hard limit ${hardText})`;
  if (hard > soft) return { prefix: ['prlimit', `--nofile=${hard}:${hard}`, '--'], limit: hard, note };
  return { prefix: [], limit: soft, note };
}

/**
 * Starts a program in its own process, under `prefix`, and resolves once it prints its URL: a
 * TypeScript file through tsx, a built .js file with plain node.
 */
export async function spawnListening(file: string, args: string[], env: NodeJS.ProcessEnv, prefix: string[] = [], nodeFlags: string[] = []): Promise<MainProcess> {
  const loader = file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const command = [...prefix, process.execPath, ...nodeFlags, ...loader, file, ...args];
  const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      // Keep the start and the tail: a server under load may log a lot.
      out = out.length > 2_000_000 ? out.slice(0, 1_000_000) + out.slice(-500_000) + c.toString() : out + c.toString();
      const m = LISTENING.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${out}`)));
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };
  return { url: `http://127.0.0.1:${port}`, child, output: () => out, kill9: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

const API_KEY = 'bench-api-key-0123456789';

/** Starts the built server (`npm run build`'s dist/server/main.js) in its own process (its own core), on a free port. */
export async function startServerProcess(extraArgs: string[] = [], env: Record<string, string> = {}, prefix: string[] = [], nodeFlags: string[] = []): Promise<ServerProcess> {
  const main = await spawnListening(await builtMain(), ['--port', '0', '--host', '127.0.0.1', ...extraArgs], { ...process.env, HUBBUB_API_KEY: API_KEY, ...LOAD_TEST_LIMITS, ...env }, prefix, nodeFlags);
  return { ...main, apiKey: API_KEY };
}

/** Starts the raw floor (floor-server.ts) the same way, so both are measured alike. */
export async function startFloorProcess(args: string[] = [], prefix: string[] = []): Promise<ServerProcess> {
  const floor = await spawnListening(FLOOR, ['--port', '0', ...args], process.env, prefix);
  return { ...floor, apiKey: API_KEY };
}
