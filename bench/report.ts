// Markdown tables in the columns of issue #8 (Hubbub beside the raw floor of the same run, with
// ratios), and the notes a reader needs to trust them: machine load, client CPU, losses.
import type { Delivery, Idle, System } from './phases.js';
import type { Transport } from './subscribers.js';

export interface TransportResult {
  system: System['name'];
  mode: System['mode'];
  transport: Transport;
  idle: Idle | undefined;
  /** Median of the fan-out runs; every run in `runs`. */
  fanout: Delivery;
  runs: Delivery[];
  rate: Delivery | undefined;
  /** Long-poll only: the fixed-rate case whose CPU per delivery does not depend on batching. */
  pollRate: Delivery | undefined;
}

const LABEL: Record<Transport, string> = { websocket: 'WebSocket', sse: 'SSE', poll: 'long-poll' };
const MODE: Record<System['mode'], string> = { memory: '', nats: ', NATS mode', nats3: ', NATS 3 nodes' };

export const int = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : Math.round(x).toLocaleString('en-US'));
export const dec = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(d));
export const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0 ? '' : `${(a / b).toFixed(2)}×`;
export const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function losses(results: TransportResult[]): { lost: number; unrecovered: number; dropped: number } {
  const all = results.flatMap((r) => [...r.runs, r.rate, r.pollRate]).filter((d): d is Delivery => d !== undefined);
  return {
    lost: all.reduce((s, d) => s + d.lost, 0),
    unrecovered: all.reduce((s, d) => s + d.unrecovered, 0),
    dropped: all.reduce((s, d) => s + d.dropped, 0),
  };
}

/** The issue's table: one row per transport and mode, Hubbub beside the floor (memory mode only). */
export function mainTable(results: TransportResult[], subscribers: number, rate: number, pollRate: number, runs: (t: Transport) => number): string {
  const head = [
    'transport',
    'Hubbub deliveries/s',
    'raw floor',
    '÷ floor',
    'Hubbub server µs/delivery',
    'raw',
    '÷ floor',
    `Hubbub p50 / p99 ms (${subscribers}×${rate}/s)`,
    'raw p50 / p99',
    'p99 ÷ floor',
    'KB/idle conn',
    'raw',
    '÷ floor',
    'lost (Hubbub / raw)',
    'recovered:false',
  ];
  const rows: string[][] = [];
  const find = (sys: System['name'], mode: System['mode'], t: Transport) => results.find((r) => r.system === sys && r.mode === mode && r.transport === t);
  const modes = [...new Set(results.filter((r) => r.system === 'hubbub').map((r) => r.mode))];
  for (const mode of modes) {
    for (const t of [...new Set(results.map((r) => r.transport))]) {
      const h = find('hubbub', mode, t);
      if (!h) continue;
      const f = mode === 'memory' ? find('floor', 'memory', t) : undefined;
      const n = runs(t);
      const label = `${LABEL[t]}${MODE[mode]}${n > 1 ? ` (median of ${n})` : ''}`;
      const lh = losses([h]);
      const lf = f && losses([f]);
      rows.push([
        label,
        int(h.fanout.perSecond),
        int(f?.fanout.perSecond),
        ratio(h.fanout.perSecond, f?.fanout.perSecond),
        dec(h.fanout.cpuPerDelivery),
        dec(f?.fanout.cpuPerDelivery),
        ratio(h.fanout.cpuPerDelivery, f?.fanout.cpuPerDelivery),
        h.rate ? `${dec(h.rate.p50)} / ${dec(h.rate.p99)}` : '',
        f?.rate ? `${dec(f.rate.p50)} / ${dec(f.rate.p99)}` : '',
        ratio(h.rate?.p99, f?.rate?.p99),
        dec(h.idle?.kbPerConnection),
        dec(f?.idle?.kbPerConnection),
        ratio(h.idle?.kbPerConnection, f?.idle?.kbPerConnection),
        `${lh.lost}${lf ? ` / ${lf.lost}` : ''}`,
        `${lh.unrecovered}${lf ? ` / ${lf.unrecovered}` : ''}`,
      ]);
      if (h.pollRate) {
        const fr = f?.pollRate;
        rows.push([
          `long-poll${MODE[mode]}, fixed rate ${h.pollRate.subscribers}×${pollRate}/s`,
          int(h.pollRate.perSecond),
          int(fr?.perSecond),
          ratio(h.pollRate.perSecond, fr?.perSecond),
          dec(h.pollRate.cpuPerDelivery),
          dec(fr?.cpuPerDelivery),
          ratio(h.pollRate.cpuPerDelivery, fr?.cpuPerDelivery),
          `${dec(h.pollRate.p50)} / ${dec(h.pollRate.p99)}`,
          fr ? `${dec(fr.p50)} / ${dec(fr.p99)}` : '',
          ratio(h.pollRate.p99, fr?.p99),
          '',
          '',
          '',
          `${h.pollRate.lost}${fr ? ` / ${fr.lost}` : ''}`,
          `${h.pollRate.unrecovered}${fr ? ` / ${fr.unrecovered}` : ''}`,
        ]);
      }
    }
  }
  return table(head, rows);
}

/** NATS mode against memory mode, Hubbub only (goal: ≥ 0.9× on every transport). */
export function natsTable(results: TransportResult[]): string | undefined {
  const memory = results.filter((r) => r.system === 'hubbub' && r.mode === 'memory');
  const rows: string[][] = [];
  for (const r of results.filter((x) => x.system === 'hubbub' && x.mode !== 'memory')) {
    const m = memory.find((x) => x.transport === r.transport);
    rows.push([
      `${LABEL[r.transport]}${MODE[r.mode]}`,
      int(r.fanout.perSecond),
      ratio(r.fanout.perSecond, m?.fanout.perSecond),
      dec(r.fanout.cpuPerDelivery),
      ratio(r.fanout.cpuPerDelivery, m?.fanout.cpuPerDelivery),
      dec(r.rate?.p99),
      ratio(r.rate?.p99, m?.rate?.p99),
      dec(r.idle?.kbPerConnection),
      ratio(r.idle?.kbPerConnection, m?.idle?.kbPerConnection),
    ]);
    if (r.pollRate && m?.pollRate) rows.push([`long-poll${MODE[r.mode]}, fixed rate`, int(r.pollRate.perSecond), ratio(r.pollRate.perSecond, m.pollRate.perSecond), dec(r.pollRate.cpuPerDelivery), ratio(r.pollRate.cpuPerDelivery, m.pollRate.cpuPerDelivery), dec(r.pollRate.p99), ratio(r.pollRate.p99, m.pollRate.p99), '', '']);
  }
  if (rows.length === 0) return undefined;
  return table(['transport', 'deliveries/s', '÷ memory', 'µs/delivery', '÷ memory', 'p99 ms', '÷ memory', 'KB/idle conn', '÷ memory'], rows);
}

/** Things that make a figure untrustworthy: a client process near a full core, drops, errors. */
export function warnings(results: TransportResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const name = `${r.system} ${LABEL[r.transport]}${MODE[r.mode]}`;
    for (const d of [...r.runs, r.rate, r.pollRate]) {
      if (!d) continue;
      const busiest = Math.max(...d.clientCores);
      if (busiest >= 0.9) out.push(`${name}: a client process used ${busiest} of a core: the figure may be client-bound`);
      if (d.lost > 0) out.push(`${name}: ${d.lost} deliveries lost, ${d.unrecovered} recovered:false; subscribers by publications received: ${JSON.stringify(d.shortfall)}`);
      if (d.publishFailed > 0) out.push(`${name}: ${d.publishFailed} publish requests failed`);
      if (d.dropped > 0) out.push(`${name}: ${d.dropped} subscribers were dropped by the server`);
      if (d.errors.length > 0) out.push(`${name}: ${d.errors.join('; ')}`);
    }
    if (r.idle && r.idle.failed > 0) out.push(`${name}: ${r.idle.failed} idle subscribers failed to open: ${r.idle.errors.join('; ')}`);
  }
  return out;
}

/**
 * Who was busy during each fan-out: the server near one core means the server set the pace; the
 * clients' own µs per delivery show the bench is cheaper than what it measures.
 */
export function costTable(results: TransportResult[]): string {
  const rows = results.map((r) => [
    `${LABEL[r.transport]}${MODE[r.mode]}`,
    r.system,
    dec(r.fanout.serverCores, 2),
    r.fanout.clientCores.map((c) => c.toFixed(2)).join(' + '),
    dec(r.fanout.clientCpuPerDelivery),
    dec(r.fanout.cpuPerDelivery),
    int(r.fanout.published),
    r.fanout.perAnswer === undefined ? '' : dec(r.fanout.perAnswer),
    `${dec(r.fanout.publishP50)} / ${dec(r.fanout.publishP99)}`,
    r.fanout.natsCpuPerDelivery === undefined ? '' : `${dec(r.fanout.natsCpuPerDelivery)} µs, ${dec(r.fanout.natsMsgsPerPublication)} msgs`,
  ]);
  return table(['fan-out', 'system', 'server cores', 'client process cores', 'client µs/delivery', 'server µs/delivery', 'publications/s accepted', 'publications per poll answer', 'publish p50 / p99 ms', 'nats-server per delivery, msgs per publication'], rows);
}
