// Signals a real deployment sends: `docker stop`/`systemctl stop` send SIGTERM to the top process
// (here `npm start`), Ctrl-C sends SIGINT to the whole process group. Each must drain the server
// (clients get the `shutdown` code) and leave no process behind. SIGHUP reloads the configuration
// instead (test/reload.test.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DISCONNECT_TABLE } from '../contract/index.js';
import { openSession } from './support/raw-clients.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHUTDOWN = DISCONNECT_TABLE.shutdown.code;
const env = { PATH: process.env.PATH ?? '', HUBBUB_API_KEY: 'signals-test-key-0123456789' };
const EXIT = { timeout: 15_000 };

/** Live (not zombie) process? Read from /proc, so it works for processes that are not our children. */
function alive(pid: number): boolean {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return false;
  try {
    // The state follows the parenthesised command name, which may itself contain spaces.
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `root` and every process below it, now. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const started: number[] = [];
afterEach(() => {
  // A failed test must not leave its server running: kill what it started, by pid.
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** Exactly the README's `npm start -- …`, in its own process group (as a terminal's foreground job is). */
async function npmStart(): Promise<{ npm: ChildProcess; port: number; exited: Promise<number | null>; output: () => string }> {
  const npm = spawn('npm', ['start', '--', '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    npm.stdout!.on('data', onData);
    npm.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`npm start exited with ${code}: ${out}`)));
  });
  started.push(...processTree(npm.pid!));
  return { npm, port, exited, output: () => out };
}

describe('npm start and signals', () => {
  it('SIGTERM to the npm process alone drains the server and leaves no process or port behind', async () => {
    const { npm, port, exited, output } = await npmStart();
    const session = await openSession('websocket', `http://127.0.0.1:${port}`, ['signals:term']);
    const tree = processTree(npm.pid!);
    expect(tree.length).toBeGreaterThan(1);

    process.kill(npm.pid!, 'SIGTERM');

    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(session.disconnects).toEqual([SHUTDOWN]), EXIT);
    expect(output()).toMatch(/SIGTERM: closing clients/);
    await vi.waitFor(() => expect(tree.filter(alive)).toEqual([]), EXIT);
    expect(await portRefuses(port)).toBe(true);
  }, 60_000);

  it('SIGINT to the whole process group (Ctrl-C) drains the server once and exits cleanly', async () => {
    const { npm, port, exited, output } = await npmStart();
    const session = await openSession('websocket', `http://127.0.0.1:${port}`, ['signals:int']);
    const tree = processTree(npm.pid!);

    process.kill(-npm.pid!, 'SIGINT');

    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(session.disconnects).toEqual([SHUTDOWN]), EXIT);
    expect(output().match(/SIGINT: closing clients/g)).toHaveLength(1);
    expect(output()).not.toMatch(/shutdown failed|ERR_SERVER_NOT_RUNNING/);
    await vi.waitFor(() => expect(tree.filter(alive)).toEqual([]), EXIT);
    expect(await portRefuses(port)).toBe(true);
  }, 60_000);
});

/** The command line of a live process, its arguments split. */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

describe('npm start runs the built server directly with node', () => {
  // Issue #9: `npm start` used to run `node --import tsx server/main.ts`; now it builds, then
  // execs node on dist/server/main.js, so the process npm starts is the server itself.
  it('SIGTERM to the process npm start started (node dist/server/main.js, no tsx) drains it, and npm exits 0', async () => {
    const { npm, port, exited, output } = await npmStart();
    const session = await openSession('sse', `http://127.0.0.1:${port}`, ['signals:child']);
    const children = processTree(npm.pid!).filter((pid) => pid !== npm.pid && alive(pid));
    expect(children).toHaveLength(1);
    const server = children[0]!;
    const argv = commandLine(server);
    expect(argv.slice(1)).toEqual(['--enable-source-maps', 'dist/server/main.js', '--port', '0', '--host', '127.0.0.1']);
    expect(argv.join(' ')).not.toMatch(/tsx/);

    process.kill(server, 'SIGTERM');

    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(session.disconnects).toEqual([SHUTDOWN]), EXIT);
    expect(output()).toMatch(/SIGTERM: closing clients/);
    await vi.waitFor(() => expect(alive(server)).toBe(false), EXIT);
    expect(await portRefuses(port)).toBe(true);
  }, 60_000);
});

