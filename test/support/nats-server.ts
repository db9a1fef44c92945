import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { vi } from 'vitest';

// Disposable nats-server processes for tests: one JetStream server on a random port, or a
// three-server JetStream cluster on loopback. Each owns a temp store dir, removed by close().

const BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const LISTEN = /Listening for client connections on 127\.0\.0\.1:(\d+)/;
const READY = /Server is ready/;
const START_TIMEOUT_MS = 10_000;

export interface NatsServerOptions {
  /** Client port; random when omitted. */
  port?: number;
  storeDir?: string;
  /** Extra command-line flags (cluster setup). */
  args?: string[];
}

export class NatsServer {
  private proc: ChildProcess | undefined;
  private log = '';
  private logWaiters: Array<() => void> = [];

  private constructor(
    public port: number,
    readonly storeDir: string,
    private readonly ownsStoreDir: boolean,
    private readonly args: string[],
  ) {}

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const owns = options.storeDir === undefined;
    const dir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'hubbub-nats-')));
    const server = new NatsServer(options.port ?? -1, dir, owns, options.args ?? []);
    try {
      await server.launch();
    } catch (err) {
      if (owns) await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Everything the server logged since it was (re)started. */
  get output(): string {
    return this.log;
  }

  /** Resolves once the server's log matches `pattern` (it may already have). */
  async waitForLog(pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.log)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nats-server log never matched ${pattern}:\n${this.log.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.logWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Graceful stop (SIGTERM); the store dir is kept for restart(). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Crash (SIGKILL): no shutdown, whatever was not synced to disk may be lost. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Starts again on the same port with the same store dir. */
  async restart(): Promise<void> {
    if (this.proc) await this.stop();
    await this.launch();
  }

  async close(): Promise<void> {
    if (this.proc) await this.kill();
    if (this.ownsStoreDir) await rm(this.storeDir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    this.log = '';
    const proc = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const onData = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
      for (const wake of this.logWaiters.splice(0)) wake();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, signal) => {
        if (this.proc === proc) this.proc = undefined;
        reject(new Error(`nats-server exited (${code ?? signal}) while starting:\n${this.log.slice(-2000)}`));
      });
      proc.once('error', reject);
    });
    exited.catch(() => undefined);
    await Promise.race([this.waitForLog(READY), exited]);
    const m = LISTEN.exec(this.log);
    if (!m) throw new Error(`nats-server did not report its port:\n${this.log}`);
    this.port = Number(m[1]);
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(sig);
    await gone;
    this.proc = undefined;
  }
}

/** A free TCP port on loopback (for cluster route listeners, which need a real number up front). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface NatsCluster {
  servers: NatsServer[];
  urls: string[];
  close(): Promise<void>;
}

/**
 * Three (or `size`) JetStream servers routed together. Resolves once a JetStream meta leader
 * is elected (about 5 s on 2.9): before that no stream can be created.
 */
export async function startCluster(size = 3): Promise<NatsCluster> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`);
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const args = ['-n', `n${i}`, '--cluster_name', 'hubbub-test', '--cluster', routes[i]!, '--routes', routes.filter((_, j) => j !== i).join(',')];
      servers.push(await NatsServer.start({ args }));
    }
    await Promise.any(servers.map((s) => s.waitForLog(/JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/, 20_000)));
    await untilReplicatedStreamsWork(servers[0]!.url, size);
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

/** A meta leader alone is not enough: placement fails ("no suitable peers") until every peer has reported in. */
async function untilReplicatedStreamsWork(url: string, replicas: number): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await vi.waitFor(
      async () => {
        await jsm.streams.add({ name: 'cluster-probe', subjects: ['cluster-probe'], num_replicas: replicas });
      },
      { timeout: 20_000, interval: 250 },
    );
    await jsm.streams.delete('cluster-probe');
  } finally {
    await nc.close();
  }
}
