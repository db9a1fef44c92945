import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './nats-server.js';

// Debian's nginx, unprivileged, in front of test nodes, with the shipped docs/deploy/nginx.conf.
//
// How the shipped file is used, and why that is honest: it is an http-context file (what goes in
// /etc/nginx/conf.d/). A deployment's own nginx.conf wraps it; here a wrapper written below plays
// that part and holds only paths (error log, pid, access log, temp dirs under a temp dir, so nginx
// needs no root) — no directive that changes how a request is proxied. The shipped file itself is
// copied with exactly four lines replaced: the three `server hubbubN:8080;` addresses (the test
// nodes listen on 127.0.0.1 at random ports) and `listen 80;` (a free port). `forTest()` refuses
// to run when the result differs from the file in any other line, so the tests exercise the
// very directives the docs ship.

export const SHIPPED_CONF = fileURLToPath(new URL('../../docs/deploy/nginx.conf', import.meta.url));
const BINARY = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
const UPSTREAM_LINE = /^(\s*)server hubbub([123]):8080;$/;
const LISTEN_LINE = /^(\s*)listen 80;$/;

/** The shipped file with the node addresses and the port replaced; throws if anything else would change. */
export function forTest(shipped: string, upstreams: readonly string[], port: number): string {
  if (upstreams.length !== 3) throw new Error('the shipped file names three nodes');
  const lines = shipped.split('\n');
  const out = lines.map((line) => {
    const up = UPSTREAM_LINE.exec(line);
    if (up) return `${up[1]}server ${upstreams[Number(up[2]) - 1]!.replace(/^https?:\/\//, '')};`;
    const listen = LISTEN_LINE.exec(line);
    if (listen) return `${listen[1]}listen 127.0.0.1:${port};`;
    return line;
  });
  const changed = out.flatMap((line, i) => (line === lines[i] ? [] : [lines[i]!.trim()]));
  const wanted = ['server hubbub1:8080;', 'server hubbub2:8080;', 'server hubbub3:8080;', 'listen 80;'];
  if (JSON.stringify(changed) !== JSON.stringify(wanted)) {
    throw new Error(`the test may replace only ${wanted.join(' | ')}; it would replace: ${changed.join(' | ')}`);
  }
  return out.join('\n');
}

export interface Nginx extends AsyncDisposable {
  url: string;
  /** What nginx wrote to its error log and stderr so far. */
  errors(): Promise<string>;
  /** The access log: one line per request, `<status> <upstream address(es)> <request line>`. */
  accessLog(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts nginx with the shipped file in front of `upstreams` (three `http://127.0.0.1:port` URLs). */
export async function startNginx(upstreams: readonly string[]): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-nginx-'));
  // Run as root (CI), nginx's workers become `nobody`: they must reach the temp dirs.
  await chmod(dir, 0o755);
  const port = await freePort();
  await writeFile(join(dir, 'hubbub.conf'), forTest(await readFile(SHIPPED_CONF, 'utf8'), upstreams, port));
  await writeFile(
    join(dir, 'nginx.conf'),
    [
      '# The part of a distribution nginx.conf the shipped file needs: where to write. Nothing here proxies.',
      'worker_processes 1;',
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 1024; }',
      'http {',
      // $upstream_addr shows which node served a request ("a, b" when nginx tried the next one).
      '  log_format upstream "$status $upstream_addr $request";',
      `  access_log ${dir}/access.log upstream;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`),
      `  include ${dir}/hubbub.conf;`,
      '}',
    ].join('\n'),
  );
  let stderr = '';
  const proc: ChildProcess = spawn(BINARY, ['-p', dir, '-e', `${dir}/error.log`, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid;`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const errors = async () => stderr + (await readFile(join(dir, 'error.log'), 'utf8').catch(() => ''));
  const close = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilListening(port, exited, errors);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    errors,
    accessLog: async () => (await readFile(join(dir, 'access.log'), 'utf8')).split('\n').filter((l) => l !== ''),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** nginx prints nothing when it is ready: wait until its port accepts connections (or it exits). */
async function untilListening(port: number, exited: Promise<void>, errors: () => Promise<string>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (gone) throw new Error(`nginx exited while starting:\n${await errors()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}:\n${await errors()}`);
    // Waiting for a process we do not control: between connection attempts, wait on its exit or 50 ms.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  }
}
