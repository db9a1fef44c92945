import { spawn } from 'node:child_process';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IngestReply } from '../../contract/ingest.js';
import type { Listener } from '../../server/app.js';
import { ingestListeners } from '../../server/ingest/index.js';
import { type TestServer, startServer } from './server.js';

// Fixtures for the ingest doors: a node with the doors its env asks for (built exactly as
// `hubbub serve` builds them), a line client for the Unix socket, and a shell runner for the
// nc/openssl commands of docs/ingest.md.

export interface IngestServer extends TestServer {
  listeners: Listener[];
}

export async function startIngestServer(env: Record<string, string>): Promise<IngestServer> {
  let listeners: Listener[] = [];
  const srv = await startServer(env, {
    listeners: (core) => (listeners = ingestListeners(core.config)(core)),
  });
  return Object.assign(srv, { listeners });
}

/** A temp dir anyone may enter (so a test can connect as another user), removed by the disposer. */
export async function socketDir(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-ingest-'));
  await chmod(dir, 0o755);
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** A client of the Unix socket: writes lines, reads reply lines. */
export class LineClient {
  readonly replies: IngestReply[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        // Every reply line must be the contract's IngestReply.
        this.replies.push(IngestReply.parse(JSON.parse(this.buffer.slice(0, nl))));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  static async open(path: string): Promise<LineClient> {
    const socket = connect(path);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new LineClient(socket);
  }

  send(...lines: string[]): void {
    this.socket.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Waits until `n` replies came in all. */
  async replied(n: number): Promise<IngestReply[]> {
    while (this.replies.length < n) {
      if (this.ended) throw new Error(`the server ended the connection after ${this.replies.length} of ${n} replies`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.replies.slice(0, n);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` in bash, with `input` as standard input when given. */
export function shell(command: string, env: Record<string, string> = {}, input?: string): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
