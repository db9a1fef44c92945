import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATH, configJsonSchema } from '../docs/generate-config-schema.js';
import { ConfigError, loadConfig } from '../server/config.js';

describe('configuration', () => {
  it('has sensible defaults and generates an API key when none is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, historySize: 100, historyTtl: 300, maxMessageBytes: 65_536, pollTimeout: 25 });
    expect(c.apiKeyGenerated).toBe(true);
    expect(c.apiKey.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).apiKey).not.toBe(c.apiKey);
  });

  it('reads HUBBUB_* variables and lets flags win', () => {
    const c = loadConfig({
      argv: ['--port', '9000', '--history-size=7'],
      env: { HUBBUB_PORT: '1234', HUBBUB_API_KEY: 'k'.repeat(20), HUBBUB_POLL_TIMEOUT: '5' },
    });
    expect(c.port).toBe(9000);
    expect(c.historySize).toBe(7);
    expect(c.pollTimeout).toBe(5);
    expect(c.apiKey).toBe('k'.repeat(20));
    expect(c.apiKeyGenerated).toBe(false);
  });

  it.each([
    [{ env: { HUBBUB_PORT: 'eighty' } }, /HUBBUB_PORT="eighty"/],
    [{ argv: ['--port', '70000'] }, /--port="70000"/],
    [{ env: { HUBBUB_API_KEY: 'short' } }, /HUBBUB_API_KEY.*at least 16/],
    [{ argv: ['--nope', '1'] }, /unknown flag --nope/],
    [{ argv: ['--port'] }, /--port needs a value/],
    [{ argv: ['9000'] }, /unexpected argument/],
    [{ env: { HUBBUB_HISTORY_TTL: '0' } }, /HUBBUB_HISTORY_TTL/],
  ])('refuses a bad value and names the setting (%j)', (source, message) => {
    expect(() => loadConfig(source)).toThrow(ConfigError);
    expect(() => loadConfig(source)).toThrow(message);
  });
});

describe('config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-config-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads the documented example, namespaces and scoped keys included', () => {
    const c = loadConfig({ argv: ['--config', 'docs/examples/hubbub.yaml'] });
    expect(c.port).toBe(8080);
    expect(c.allowedOrigins).toEqual(['https://app.example.com']);
    expect(c.namespaces['chat']).toEqual({ subscribe: 'authenticated', publish: 'subscribers', joinLeave: true });
    expect(c.apiKeys.map((k) => [k.name, k.namespaces, k.operations])).toEqual([
      ['billing', ['billing', 'notifications'], ['publish', 'broadcast']],
      ['support-dashboard', ['*'], ['presence', 'history', 'channels', 'info']],
    ]);
    expect(c.devTokenSecret).toBeUndefined();
    expect(c.webhooks).toMatchObject({ url: 'http://127.0.0.1:3000/hubbub/events', events: ['connect', 'disconnect'], queueSize: 10_000 });
    expect(c.namespaces['support']?.publishProxy).toEqual({ url: 'http://127.0.0.1:3000/hubbub/publish', timeoutMs: 2000 });
  });

  it('reads JSON too, and lets env and flags override the file', () => {
    const path = write('c.json', JSON.stringify({ port: 7000, historySize: 5, pollTimeout: 9 }));
    const c = loadConfig({ argv: ['--config', path, '--port', '7001'], env: { HUBBUB_HISTORY_SIZE: '6' } });
    expect([c.port, c.historySize, c.pollTimeout]).toEqual([7001, 6, 9]);
    expect(loadConfig({ env: { HUBBUB_CONFIG: path } }).port).toBe(7000);
  });

  it.each([
    ['unknown.yaml', 'prot: 8080\n', /unknown.yaml: \(top\): unknown key "prot"/],
    ['nested.yaml', 'namespaces:\n  chat:\n    subscribe: everyone\n', /namespaces\.chat\.subscribe/],
    ['nested-key.yaml', 'namespaces:\n  chat:\n    joinleave: true\n', /namespaces\.chat: unknown key "joinleave"/],
    ['badvalue.yaml', 'port: -1\n', /badvalue.yaml: port: Number must be greater/],
    ['key.yaml', 'apiKeys:\n  - name: a\n    key: short\n', /apiKeys\.0\.key: must be at least 16/],
    ['ops.yaml', `apiKeys:\n  - name: a\n    key: ${'k'.repeat(16)}\n    operations: [publsh]\n`, /apiKeys\.0\.operations\.0/],
    ['broken.yaml', 'port: [\n', /not valid YAML/],
    ['broken.json', '{"port": ', /not valid JSON/],
    ['list.yaml', '- 1\n', /must hold an object/],
  ])('refuses %s and names the file and the path of the bad key', (name, text, message) => {
    const path = write(name, text);
    expect(() => loadConfig({ argv: ['--config', path] })).toThrow(ConfigError);
    expect(() => loadConfig({ argv: ['--config', path] })).toThrow(message);
  });

  it('refuses a missing file, two token keys, and a token secret equal to the API key', () => {
    expect(() => loadConfig({ argv: ['--config', join(dir, 'nope.yaml')] })).toThrow(/cannot read config file/);
    const secret = 's'.repeat(32);
    expect(() => loadConfig({ env: { HUBBUB_TOKEN_SECRET: secret, HUBBUB_TOKEN_JWKS_URL: 'https://a.example/jwks' } })).toThrow(/one token key/);
    expect(() => loadConfig({ env: { HUBBUB_TOKEN_SECRET: secret, HUBBUB_API_KEY: secret } })).toThrow(/must differ/);
  });

  it('refuses webhook events without webhooks.url, and events that are not where they belong', () => {
    const refuse = (yaml: string, message: RegExp) => expect(() => loadConfig({ argv: ['--config', write('w.yaml', yaml)] })).toThrow(message);
    refuse('namespaces:\n  chat:\n    webhooks: [publish]\n', /namespaces\.chat\.webhooks asks for webhook events but webhooks\.url is not set/);
    refuse('webhooks:\n  events: [connect]\n', /webhooks\.events asks for webhook events but webhooks\.url is not set/);
    refuse('webhooks:\n  url: http://x\nnamespaces:\n  chat:\n    webhooks: [connect]\n', /namespaces\.chat\.webhooks\.0/);
    refuse('webhooks:\n  url: http://x\n  events: [publish]\n', /webhooks\.events\.0/);
    refuse('namespaces:\n  chat:\n    publishProxy: { url: "ftp://x" }\n', /namespaces\.chat\.publishProxy\.url: an http\(s\) URL/);
    // A secret and a publish proxy need no endpoint of events.
    expect(loadConfig({ argv: ['--config', write('w.yaml', 'webhooks:\n  secret: sixteen-chars-or-more\nnamespaces:\n  m:\n    publishProxy: { url: "http://x" }\n')] }).webhooks?.secret).toBe('sixteen-chars-or-more');
  });

  it('is a development setup (dev tokens on) only without a token key and without a file', () => {
    expect(loadConfig({}).devTokenSecret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(loadConfig({ env: { HUBBUB_TOKEN_SECRET: 's'.repeat(32) } }).devTokenSecret).toBeUndefined();
    expect(loadConfig({ argv: ['--config', write('empty.yaml', '')] }).devTokenSecret).toBeUndefined();
  });

  it('publishes a JSON Schema generated from the file schema (run: npx tsx docs/generate-config-schema.ts)', () => {
    expect(configJsonSchema()).toBe(readFileSync(SCHEMA_PATH, 'utf8'));
    const schema = JSON.parse(configJsonSchema()) as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['tokenSecret', 'allowedOrigins', 'namespaces', 'apiKeys', 'defaults']));
    expect(schema.additionalProperties).toBe(false);
  });
});
