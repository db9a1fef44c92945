// The soak's memory side: samples of the server process (RSS from the kernel, heap from the server's
// /api/info), a table over time, and a least-squares slope over the samples after warm-up.
import { readFileSync } from 'node:fs';
import type { InfoResponse } from '../contract/index.js';

export interface Sample {
  /** Seconds since the soak started. */
  at: number;
  warmup: boolean;
  /** VmRSS of /proc/<pid>/status, bytes. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  connections: number;
  subscriptions: number;
  channels: number;
  churnCycles: number;
  published: number;
}

/** The kernel's resident set size of `pid`, in bytes. */
export function vmRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export async function info(url: string, apiKey: string): Promise<InfoResponse> {
  const res = await fetch(`${url}/api/info`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (res.status !== 200) throw new Error(`/api/info: ${res.status}`);
  const body = (await res.json()) as InfoResponse;
  if (!body.memory) throw new Error('/api/info has no memory field (server too old?)');
  return body;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => (bytes / MB).toFixed(1);

const COLUMNS: Array<[string, (s: Sample) => string]> = [
  ['t (s)', (s) => `${s.at.toFixed(0)}${s.warmup ? '*' : ''}`],
  ['rss MB', (s) => mb(s.rss)],
  ['heapUsed MB', (s) => mb(s.heapUsed)],
  ['heapTotal MB', (s) => mb(s.heapTotal)],
  ['external MB', (s) => mb(s.external)],
  ['conns', (s) => String(s.connections)],
  ['subs', (s) => String(s.subscriptions)],
  ['channels', (s) => String(s.channels)],
  ['churn cycles', (s) => String(s.churnCycles)],
  ['published', (s) => String(s.published)],
];

const pad = (text: string, i: number) => text.padStart(Math.max(8, COLUMNS[i]![0].length));

export function tableHeader(): string {
  return COLUMNS.map(([name], i) => pad(name, i)).join('  ');
}

export function tableRow(s: Sample): string {
  return COLUMNS.map(([, cell], i) => pad(cell(s), i)).join('  ');
}

/** Least-squares slope of y over x; undefined with fewer than two distinct x. */
export function slope(points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

export interface SeriesSummary {
  start: number;
  end: number;
  min: number;
  max: number;
  /** Bytes per hour, from the fit over the samples after warm-up. */
  slopePerHour: number | null;
}

export type MemoryKey = 'rss' | 'heapUsed' | 'heapTotal' | 'external';

/** Over the samples after warm-up; undefined when there are none. */
export function summarize(samples: Sample[], key: MemoryKey): SeriesSummary | undefined {
  const after = samples.filter((s) => !s.warmup);
  if (after.length === 0) return undefined;
  const values = after.map((s) => s[key]);
  const perSecond = slope(after.map((s) => [s.at, s[key]]));
  return {
    start: values[0]!,
    end: values[values.length - 1]!,
    min: Math.min(...values),
    max: Math.max(...values),
    slopePerHour: perSecond === undefined ? null : perSecond * 3600,
  };
}

export function formatSummary(key: MemoryKey, s: SeriesSummary | undefined): string {
  if (!s) return `${key.padEnd(9)} no samples after warm-up`;
  const slopeText = s.slopePerHour === null ? 'n/a' : `${s.slopePerHour >= 0 ? '+' : ''}${mb(s.slopePerHour)} MB/h`;
  return `${key.padEnd(9)} start ${mb(s.start)} MB  end ${mb(s.end)} MB  min ${mb(s.min)} MB  max ${mb(s.max)} MB  slope ${slopeText}`;
}
