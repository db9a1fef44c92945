// Starts the systems the bench compares: Hubbub (memory broker, or one or three nodes on a local
// nats-server) and the raw floor, each in its own process under the bench's fd limit.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, freePort } from '../test/support/nats-server.js';
import type { ClientPool } from './client-pool.js';
import type { System } from './phases.js';
import { Publisher } from './publisher.js';
import { type ServerProcess, startFloorProcess, startServerProcess } from './server-process.js';

export interface SystemOptions {
  /** Publications kept per channel: Hubbub's --history-size, the floor's ring. */
  history: number;
  payloadBytes: number;
  /** Publish requests in flight at most. */
  inFlight: number;
  /** Every subscriber presents a signed token; the `bench` namespace admits authenticated users only. */
  auth: boolean;
  fdPrefix: string[];
  /** Hubbub's processes write a V8 CPU profile here (node --cpu-prof) when they stop. */
  profileDir: string | undefined;
  /** More node flags for Hubbub's processes (e.g. --trace-gc); their output is kept in .tmp/hubbub-<pid>.log. */
  nodeFlags: string[];
  /** Hubbub's Prometheus metrics (--metrics); off to measure what they cost. */
  metrics: boolean;
}

/** A nats-server for the NATS modes, with its pid (for its CPU) and monitoring port (for its subscription count). */
export class BenchNats {
  private constructor(
    readonly server: NatsServer,
    readonly pid: number,
    private readonly monitor: number,
  ) {}

  static async start(): Promise<BenchNats> {
    const dir = mkdtempSync(join(tmpdir(), 'hubbub-bench-nats-'));
    const monitor = await freePort();
    const server = await NatsServer.start({ args: ['-P', join(dir, 'nats.pid'), '-m', String(monitor)] });
    return new BenchNats(server, Number(readFileSync(join(dir, 'nats.pid'), 'utf8').trim()), monitor);
  }

  get url(): string {
    return this.server.url;
  }

  /** The server's counters: subscriptions it holds (all clients), messages in and out. */
  async varz(): Promise<{ subscriptions: number; in_msgs: number; out_msgs: number }> {
    const res = await fetch(`http://127.0.0.1:${this.monitor}/varz`);
    return (await res.json()) as { subscriptions: number; in_msgs: number; out_msgs: number };
  }

  async subscriptions(): Promise<number> {
    return (await this.varz()).subscriptions;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

function hubbubEnv(secret: string | undefined): Record<string, string> {
  if (!secret) return {};
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-bench-'));
  writeFileSync(join(dir, 'hubbub.yaml'), 'namespaces:\n  bench:\n    subscribe: authenticated\n');
  return { HUBBUB_TOKEN_SECRET: secret, HUBBUB_CONFIG: join(dir, 'hubbub.yaml') };
}

function system(name: System['name'], mode: System['mode'], nodes: ServerProcess[], opts: SystemOptions, tokenSecret: string | undefined, nats?: BenchNats): System {
  const publisher = new Publisher(nodes[0]!.url, nodes[0]!.apiKey, opts.payloadBytes, opts.inFlight);
  return {
    name,
    mode,
    urls: nodes.map((n) => n.url),
    pids: nodes.map((n) => n.child.pid!),
    publisher,
    tokenSecret,
    nats,
    async stop() {
      publisher.close();
      await Promise.all(nodes.map((n) => n.stop()));
      if (opts.nodeFlags.length > 0 && name === 'hubbub') for (const n of nodes) writeFileSync(`.tmp/hubbub-${n.child.pid}.log`, n.output());
    },
  };
}

export async function startHubbub(mode: System['mode'], nats: BenchNats | undefined, opts: SystemOptions): Promise<System> {
  const secret = opts.auth ? randomBytes(32).toString('base64url') : undefined;
  const args = ['--history-size', String(opts.history), '--metrics', String(opts.metrics)];
  const env = hubbubEnv(secret);
  const flags = [...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []), ...opts.nodeFlags];
  if (mode === 'memory') return system('hubbub', mode, [await startServerProcess(args, env, opts.fdPrefix, flags)], opts, secret);
  if (!nats) throw new Error('NATS mode without a nats-server');
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const nodes: ServerProcess[] = [];
  for (let i = 1; i <= (mode === 'nats3' ? 3 : 1); i++) {
    nodes.push(await startServerProcess([...args, '--nats', nats.url, '--nats-prefix', prefix, '--node-id', `bench${i}`], env, opts.fdPrefix, flags));
  }
  return system('hubbub', mode, nodes, opts, secret, nats);
}

export async function startFloor(opts: SystemOptions): Promise<System> {
  return system('floor', 'memory', [await startFloorProcess(['--ring', String(opts.history)], opts.fdPrefix)], opts, undefined);
}

/** What to measure in one mode: the floor beside Hubbub in memory mode (floor first), Hubbub alone otherwise. */
export function startersFor(mode: System['mode'], nats: BenchNats | undefined, opts: SystemOptions): Array<() => Promise<System>> {
  const hubbub = () => startHubbub(mode, nats, opts);
  return mode === 'memory' ? [() => startFloor(opts), hubbub] : [hubbub];
}

/** Runs `fn` on a freshly started system; its subscribers are closed and its processes stopped after. */
export async function withSystem<T>(start: () => Promise<System>, pool: ClientPool, fn: (sys: System) => Promise<T>): Promise<T> {
  const sys = await start();
  try {
    return await fn(sys);
  } finally {
    await pool.close();
    await sys.stop();
  }
}
