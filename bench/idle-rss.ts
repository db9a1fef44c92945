// Memory of one idle node, started each way the project has run it: RSS of the whole process
// tree (a wrapper included) once the server listens, has answered /health and sat idle for 3 s.
// Run `npm run build` first; `npx tsx bench/idle-rss.ts [rounds]`.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadAverage, rssKb } from './proc-stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARGS = ['--port', '0', '--host', '127.0.0.1'];
const WAYS: Record<string, string[]> = {
  'node --import tsx server/main.ts (npm start before)': [process.execPath, '--import', 'tsx', 'server/main.ts'],
  'tsx server/main.ts (wrapper + node)': ['node_modules/.bin/tsx', 'server/main.ts'],
  'node dist/server/main.js (built)': [process.execPath, 'dist/server/main.js'],
  'node --enable-source-maps dist/server/main.js (npm start now)': [process.execPath, '--enable-source-maps', 'dist/server/main.js'],
};

function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const all = [root];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]!) ?? []));
  return all;
}

async function idleRss(command: string[]): Promise<{ totalKb: number; perProcessKb: number[] }> {
  const child = spawn(command[0]!, [...command.slice(1), ...ARGS], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HUBBUB_API_KEY: 'idle-rss-key-0123456789' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  await (await fetch(`http://127.0.0.1:${port}/health`)).text();
  await sleep(3000);
  const perProcessKb = tree(child.pid!).map(rssKb);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return { totalKb: perProcessKb.reduce((a, b) => a + b, 0), perProcessKb };
}

const rounds = Number(process.argv[2] ?? 3);
console.log(`load average ${loadAverage()}, ${rounds} rounds, median shown`);
for (const [name, command] of Object.entries(WAYS)) {
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await idleRss(command));
  runs.sort((a, b) => a.totalKb - b.totalKb);
  const mid = runs[Math.floor(runs.length / 2)]!;
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  console.log(`${name}: ${mb(mid.totalKb)} MB in ${mid.perProcessKb.length} process(es) [${mid.perProcessKb.map(mb).join(' + ')}]; all runs ${runs.map((r) => mb(r.totalKb)).join(', ')} MB`);
}
