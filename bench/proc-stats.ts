// What a server process costs, read from /proc: CPU time (user + system, all threads) and RSS.
import { readFileSync } from 'node:fs';

const TICK_US = 1e6 / 100; // USER_HZ: 100 on Linux (getconf CLK_TCK)

/** utime + stime of the process, µs (10 ms resolution). */
export function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** Resident set size, KB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

export const sumOver = (pids: number[], read: (pid: number) => number) => pids.reduce((s, p) => s + read(p), 0);

/** Load average (1, 5, 15 min), to print beside numbers taken on a shared machine. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
