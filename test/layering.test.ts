import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The layering rules of the brief, checked on every import statement of the source tree. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module a file imports: packages by name, local files as repo-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => {
    const spec = m[1]!;
    return spec.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', spec)) : spec;
  });
}

function violations(dir: string, allowed: (target: string) => boolean): string[] {
  return files(dir).flatMap((f) => imports(f).filter((t) => !allowed(t)).map((t) => `${f} imports ${t}`));
}

describe('layering', () => {
  it('contract/ imports only zod, ts-rest and itself', () => {
    expect(violations('contract', (t) => t.startsWith('contract/') || t === 'zod' || t.startsWith('@ts-rest/'))).toEqual([]);
  });

  it('server/ and client/ import contract/, never each other', () => {
    expect(violations('server', (t) => !t.startsWith('client/'))).toEqual([]);
    expect(violations('client', (t) => !t.startsWith('server/'))).toEqual([]);
  });

  it('transports know the hub, never a broker', () => {
    expect(violations('server/transports', (t) => !t.startsWith('server/broker/'))).toEqual([]);
  });

  it('brokers know nothing of hubs, transports or HTTP', () => {
    const above = /^server\/(hub|transports|http|cluster)\//;
    expect(violations('server/broker', (t) => !above.test(t) && t !== 'server/app.js')).toEqual([]);
  });

  it('the check sees real imports (it would catch a violation)', () => {
    expect(imports('server/transports/ws-commands.ts')).toContain('server/hub/hub.js');
    expect(imports('server/hub/hub.ts')).toContain('server/broker/broker.js');
    expect(imports('server/transports/websocket.ts')).toContain('ws');
  });
});
