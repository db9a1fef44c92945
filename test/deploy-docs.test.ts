import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SETTINGS } from '../server/settings.js';
import { parseDockerfile, stagesOf } from './support/dockerfile-rules.js';

// docs/deploy.md and the systemd unit beside it: the unit passes systemd's own checker, runs what
// the image runs, waits longer than a drain; the page's links and variables exist.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNIT = readFileSync(`${ROOT}docs/deploy/hubbub.service`, 'utf8');
const DEPLOY_MD = readFileSync(`${ROOT}docs/deploy.md`, 'utf8');
const SHUTDOWN_DEFAULT = Number(SETTINGS.shutdownTimeout.schema.parse(undefined));

/** `systemd-analyze verify` on `text` as a unit file; returns what it reported. */
function verifyUnit(text: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-unit-'));
  try {
    writeFileSync(join(dir, 'hubbub.service'), text);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'hubbub.service')], { encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw r.error;
    return { status: r.status, stderr: r.stderr.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const unitValue = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(UNIT)?.[1];

describe('docs/deploy/hubbub.service', () => {
  it('passes systemd-analyze verify without a warning, which does catch a misspelt key', () => {
    expect(verifyUnit(UNIT)).toEqual({ status: 0, stderr: '' });
    expect(verifyUnit(UNIT.replace('Restart=on-failure', 'Restrat=on-failure')).stderr).toMatch(/Unknown key '?Restrat'?/);
  });

  it('runs what the image runs, and waits longer than a drain before SIGKILL', () => {
    const cmd = stagesOf(parseDockerfile(readFileSync(`${ROOT}Dockerfile`, 'utf8'))).at(-1)!.instructions.find((i) => i.keyword === 'CMD')!.exec!;
    expect(unitValue('ExecStart')?.split(' ').slice(1)).toEqual(cmd.slice(1));
    expect(unitValue('KillSignal')).toBe('SIGTERM');
    // A stop takes at most --shutdown-timeout to drain, then as long again to send queued webhooks.
    expect(Number(unitValue('TimeoutStopSec'))).toBeGreaterThan(2 * SHUTDOWN_DEFAULT);
    const compose = parse(readFileSync(`${ROOT}compose.yaml`, 'utf8'), { merge: true }) as { services: Record<string, { stop_grace_period?: string }> };
    expect(parseInt(compose.services['hubbub1']!.stop_grace_period ?? '10', 10)).toBeGreaterThan(2 * SHUTDOWN_DEFAULT);
  });
});

describe('docs/deploy.md', () => {
  it('links only to files that exist, and the README links to it', () => {
    const links = [...DEPLOY_MD.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]!).filter((l) => !/^https?:/.test(l));
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((l) => !existsSync(resolve(dirname(`${ROOT}docs/deploy.md`), l)))).toEqual([]);
    expect(readFileSync(`${ROOT}README.md`, 'utf8')).toContain('(docs/deploy.md)');
  });

  it('names only settings that exist', () => {
    const known = new Set<string>(Object.values(SETTINGS).flatMap((s) => [s.env, `--${s.flag}`]));
    const named = [...DEPLOY_MD.matchAll(/\b(HUBBUB_[A-Z_]+|--[a-z]+(?:-[a-z]+)*)\b/g)].map((m) => m[1]!);
    // Flags of other programs on the page: docker, useradd, install, curl.
    const others = new Set(['--build', '--rm', '--system', '--home']);
    expect(named.length).toBeGreaterThan(5);
    expect([...new Set(named)].filter((n) => !known.has(n) && !others.has(n))).toEqual([]);
  });
});
