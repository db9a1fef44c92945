// --scale: subscribers of one channel added step by step (1,000 → 5,000 → 10,000 → 20,000 by
// default) on one server process per transport; at each step the server's memory per connection
// (the curve must stay flat) and a fan-out of a few publications, one a second, with p50/p99.
import { readdirSync } from 'node:fs';
import type { BenchConfig } from './bench.js';
import type { ClientPool } from './client-pool.js';
import { type Delivery, type System, atRate, settledRss, warmUp } from './phases.js';
import { dec, int, ratio, table } from './report.js';
import type { Transport } from './subscribers.js';
import { type BenchNats, type SystemOptions, startersFor, withSystem } from './systems.js';

export interface ScalePoint {
  step: number;
  /** The step asked for more connections than the server's fd limit leaves room for: `subscribers` is the most that fit. */
  capped: boolean;
  subscribers: number;
  /** Subscribers that failed to open at this step (refused, reset, timed out). */
  failed: number;
  errors: string[];
  rssKb: number;
  /** (RSS − RSS before the first subscriber) / subscribers. */
  kbPerConnection: number;
  /** RSS growth of this step / subscribers added in it. */
  kbPerAdded: number;
  fanout: Delivery | undefined;
  serverAlive: boolean;
  /** File descriptors the server processes hold, against the limit the bench gave them. */
  fds: number;
}

export interface ScaleResult {
  system: System['name'];
  mode: System['mode'];
  transport: Transport;
  points: ScalePoint[];
}

const FD_RESERVE = 64;

const fds = (pids: number[]) => pids.reduce((n, pid) => n + readdirSync(`/proc/${pid}/fd`).length, 0);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function climb(pool: ClientPool, sys: System, t: Transport, config: BenchConfig, log: (l: string) => void): Promise<ScalePoint[]> {
  await warmUp(pool, sys, t, config.stallMs);
  const base = await settledRss(sys.pids);
  let rss = base;
  let opened = 0;
  const points: ScalePoint[] = [];
  // The server's own files (listener, stdio, epoll, NATS) and the publisher's connections need room too:
  // without it the last connections are reset (libuv's answer to EMFILE) and the publisher is locked out.
  const room = config.fdLimit - FD_RESERVE;
  for (const step of config.steps) {
    const capped = step > room;
    const r = await pool.open({ transport: t, urls: sys.urls, channels: ['bench:scale'], count: Math.min(step, room) - opened, tokenSecret: sys.tokenSecret });
    const serverAlive = sys.pids.every(alive);
    const before = rss;
    rss = serverAlive ? await settledRss(sys.pids) : NaN;
    const added = r.opened;
    opened += added;
    const fanout = serverAlive && opened > 0 ? await atRate(pool, sys, 'bench:scale', opened, 1, config.scaleMessages, config.stallMs) : undefined;
    const point = {
      step,
      capped,
      subscribers: opened,
      failed: r.failed,
      errors: r.errors,
      rssKb: rss,
      kbPerConnection: Number(((rss - base) / opened).toFixed(1)),
      kbPerAdded: Number(((rss - before) / Math.max(added, 1)).toFixed(1)),
      fanout,
      serverAlive: serverAlive && sys.pids.every(alive),
      fds: serverAlive ? fds(sys.pids) : NaN,
    };
    points.push(point);
    log(
      `${sys.name} ${sys.mode} ${t}: ${opened} subscribers${capped ? ` (capped: fd limit ${config.fdLimit})` : ''} (${r.failed} failed${r.errors.length ? `: ${r.errors[0]}` : ''}), ${point.fds} fds, ${point.kbPerConnection} KB each` +
        (fanout ? `, fan-out p50 ${fanout.p50} p99 ${fanout.p99} ms, ${fanout.cpuPerDelivery} µs/delivery, lost ${fanout.lost}, dropped ${fanout.dropped}, publishes failed ${fanout.publishFailed}` : ''),
    );
    if (!point.serverAlive || r.failed > 0 || capped) break;
  }
  return points;
}

export async function runScale(pool: ClientPool, nats: BenchNats | undefined, config: BenchConfig, opts: SystemOptions, log: (l: string) => void): Promise<{ results: ScaleResult[]; markdown: string }> {
  const results: ScaleResult[] = [];
  for (const mode of config.modes) {
    for (const t of config.transports) {
      for (const start of startersFor(mode, nats, opts)) {
        results.push(await withSystem(start, pool, async (sys) => ({ system: sys.name, mode, transport: t, points: await climb(pool, sys, t, config, log) })));
      }
    }
  }
  return { results, markdown: scaleTables(results) };
}

function scaleTables(results: ScaleResult[]): string {
  const out: string[] = [];
  for (const h of results.filter((r) => r.system === 'hubbub')) {
    const f = h.mode === 'memory' ? results.find((r) => r.system === 'floor' && r.transport === h.transport) : undefined;
    const rows = h.points.map((p) => {
      const q = f?.points.find((x) => x.step === p.step);
      return [
        int(p.step),
        `${int(p.subscribers)}${p.capped ? ' (fd limit)' : ''}${p.failed ? ` (${p.failed} failed)` : ''}${p.serverAlive ? '' : ' server died'}`,
        int(p.fds),
        dec(p.kbPerConnection),
        dec(p.kbPerAdded),
        q ? dec(q.kbPerConnection) : '',
        ratio(p.kbPerConnection, q?.kbPerConnection),
        p.fanout ? `${dec(p.fanout.p50)} / ${dec(p.fanout.p99)}` : '',
        q?.fanout ? `${dec(q.fanout.p50)} / ${dec(q.fanout.p99)}` : '',
        dec(p.fanout?.cpuPerDelivery),
        dec(q?.fanout?.cpuPerDelivery),
        `${p.fanout?.lost ?? ''}${q?.fanout ? ` / ${q.fanout.lost}` : ''}`,
        `${p.fanout?.dropped ?? ''}${q?.fanout ? ` / ${q.fanout.dropped}` : ''}`,
      ];
    });
    const mode = h.mode === 'memory' ? '' : `, ${h.mode}`;
    out.push(
      `Scale, ${h.transport}${mode}: one channel, subscribers added step by step; fan-out of publications one a second\n\n` +
        table(['step', 'Hubbub subscribers', 'server fds', 'KB/conn', 'KB/conn added in step', 'raw KB/conn', '÷ floor', 'Hubbub p50 / p99 ms', 'raw p50 / p99', 'Hubbub µs/delivery', 'raw', 'lost (H / raw)', 'dropped (H / raw)'], rows),
    );
  }
  return out.join('\n\n');
}
