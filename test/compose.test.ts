import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SETTINGS } from '../server/settings.js';
import { type Doc, type Service, checkCompose, dependsOn, envOf, servicesOf } from './support/compose-rules.js';
import { parseDockerfile } from './support/dockerfile-rules.js';

// compose.yaml: the Compose specification's structure (support/compose-rules.ts, each rule shown
// to fire on a broken copy), then what this deployment needs: NATS with JetStream, three nodes of
// the Dockerfile's image on it, nginx with docs/deploy/nginx.conf in front of exactly those nodes.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEXT = readFileSync(`${ROOT}compose.yaml`, 'utf8');
const NGINX_CONF = readFileSync(`${ROOT}docs/deploy/nginx.conf`, 'utf8');
const read = (text: string) => parse(text, { merge: true }) as Doc;
// A node built from the Dockerfile is healthy-checkable through the image's HEALTHCHECK (on /ready).
const DOCKERFILE_HEALTHY = parseDockerfile(readFileSync(`${ROOT}Dockerfile`, 'utf8')).some((i) => i.keyword === 'HEALTHCHECK');
const healthyImage = (s: Service) => s['build'] === '.' && DOCKERFILE_HEALTHY;
const check = (doc: Doc) => checkCompose(doc, healthyImage, (p) => existsSync(`${ROOT}${p}`));

const DOC = read(TEXT);
const services = servicesOf(DOC);
const HUBBUB_ENV = new Set<string>(Object.values(SETTINGS).map((s) => s.env));
const nodes = Object.entries(services).filter(([, s]) => s['build'] === '.');
const nginxService = Object.entries(services).find(([, s]) => String(s['image']).startsWith('nginx:'));
const natsService = Object.entries(services).find(([, s]) => String(s['image']).startsWith('nats:'));

describe('compose.yaml, structure', () => {
  it('keeps the Compose specification rules', () => {
    expect(check(DOC)).toEqual([]);
  });

  const broken: Array<[string, string, string, RegExp]> = [
    ['an obsolete version key', 'services:\n', 'version: "3.8"\nservices:\n', /version: obsolete/],
    ['a misspelt service key', '    healthcheck:\n      test:', '    healtcheck:\n      test:', /nats: unknown key healtcheck/],
    ['an unpinned image', 'image: nginx:1.26.3-alpine', 'image: nginx', /nginx: image nginx has no tag/],
    ['an undeclared named volume', '- nats-data:/data', '- nats-store:/data', /nats-store is not declared/],
    ['a bind mount of a missing file', './docs/deploy/nginx.conf', './docs/deploy/ngnix.conf', /ngnix.conf does not exist/],
    ['depends_on a missing service', '      hubbub3:\n        condition', '      hubbub4:\n        condition', /depends_on hubbub4: no such service/],
    ['an unknown condition', 'condition: service_healthy\n  networks', 'condition: service_ready\n  networks', /unknown condition service_ready/],
    ['service_healthy on a service without a healthcheck', '    healthcheck:\n      test: ["CMD", "wget"', '    labels:\n      test: ["CMD", "wget"', /service_healthy, but nats has no healthcheck/],
    ['a malformed port', '"8080:80"', '"8080->80"', /is not a port mapping/],
    ['an address outside the subnet', 'ipv4_address: 172.28.89.10', 'ipv4_address: 172.29.89.10', /outside hubbub's subnets/],
  ];
  it.each(broken)('a compose file with %s is refused', (_name, from, to, rule) => {
    expect(TEXT, 'the mutation applies').toContain(from);
    expect(check(read(TEXT.replace(from, to))).join('\n')).toMatch(rule);
  });
});

describe('compose.yaml, the deployment', () => {
  it('NATS runs with JetStream, its store on a volume, and a healthcheck', () => {
    const [, nats] = natsService!;
    const command = nats['command'] as string[];
    expect(command.some((a) => a === '-js' || a === '--jetstream')).toBe(true);
    const store = command[command.indexOf('-sd') + 1];
    expect((nats['volumes'] as string[]).map((v) => v.split(':')[1])).toContain(store);
    expect(nats['healthcheck']).toBeDefined();
  });

  it('three nodes of the Dockerfile image on that NATS, with distinct node ids and only known HUBBUB_* variables', () => {
    expect(nodes.map(([name]) => name)).toEqual(['hubbub1', 'hubbub2', 'hubbub3']);
    const ids = nodes.map(([, s]) => envOf(s)['HUBBUB_NODE_ID']);
    expect(new Set(ids).size).toBe(3);
    for (const [name, s] of nodes) {
      const env = envOf(s);
      expect(Object.keys(env).filter((k) => !HUBBUB_ENV.has(k)), `${name}: unknown variables`).toEqual([]);
      expect(env['HUBBUB_NATS_URL'], name).toBe(`nats://${natsService![0]}:4222`);
      // Production, not development mode: the key and the token secret must be given.
      expect(env['HUBBUB_API_KEY'], name).toMatch(/^\$\{HUBBUB_API_KEY:\?/);
      expect(env['HUBBUB_TOKEN_SECRET'], name).toMatch(/^\$\{HUBBUB_TOKEN_SECRET:\?/);
      expect(dependsOn(s), name).toEqual({ [natsService![0]]: 'service_healthy' });
    }
  });

  it('nginx serves docs/deploy/nginx.conf in front of exactly those three nodes, after they are healthy', () => {
    const [, nginx] = nginxService!;
    expect(nginx['volumes']).toContain('./docs/deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    const port = String(SETTINGS.port.schema.parse(undefined));
    const upstreams = [...NGINX_CONF.matchAll(/^\s*server (\S+);$/gm)].map((m) => m[1]);
    expect(upstreams).toEqual(nodes.map(([name, s]) => `${name}:${envOf(s)['HUBBUB_PORT'] ?? port}`));
    const listen = /^\s*listen (\d+);$/m.exec(NGINX_CONF)![1];
    expect((nginx['ports'] as string[]).map((p) => p.split(':').at(-1))).toEqual([listen]);
    expect(dependsOn(nginx)).toEqual(Object.fromEntries(nodes.map(([name]) => [name, 'service_healthy'])));
  });

  it('the nodes trust forwarded addresses from nginx only', () => {
    const address = (nginxService![1]['networks'] as Record<string, { ipv4_address: string }>)['hubbub']!.ipv4_address;
    for (const [name, s] of nodes) expect(envOf(s)['HUBBUB_TRUSTED_PROXIES'], name).toBe(address);
  });
});

// `docker compose config` parses and validates without an engine, but needs the compose plugin:
// registered where it is installed, announced on the output where it is not.
const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 15_000 });
if (plugin.status === 0) {
  describe(`docker compose config (${plugin.stdout.trim()})`, () => {
    it('accepts compose.yaml', () => {
      const env = { ...process.env, HUBBUB_API_KEY: 'compose-check-key-0123456789', HUBBUB_TOKEN_SECRET: 'x'.repeat(32) };
      const r = spawnSync('docker', ['compose', '-f', 'compose.yaml', 'config', '--quiet'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  });
} else {
  const why = (plugin.stderr || String(plugin.error ?? '')).split('\n').find((l) => l.trim() !== '') ?? `exit ${plugin.status}`;
  console.log(`[compose] \`docker compose config\` is not registered: the compose plugin is missing (${why.trim()})`);
}
