// HTTPS without a proxy (--tls-cert/--tls-key): every transport over TLS with a self-signed
// certificate made for the test by openssl, and the certificate reread by a reload.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PollResponse } from '../contract/index.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { ReloadError } from '../server/reload.js';
import { TEST_API_KEY, type TestServer, startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

const WAIT = { timeout: 10_000 };

/** A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`. */
function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** Common name of the certificate the server presented. */
  certName: string;
}

/** One HTTPS request trusting only `ca`, on a fresh connection (no agent: each sees the server's current certificate). */
function fetchTls(url: string, ca: Buffer, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca, agent: false }, (res) => {
      const certName = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, certName }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const publishTls = (srv: TestServer, ca: Buffer, channel: string, data: unknown) =>
  fetchTls(`${srv.url}/api/publish`, ca, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });

let dir: string;
let first: { cert: string; key: string };
let ca: Buffer;
let srv: TestServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hubbub-tls-'));
  first = makeCert(dir, 'first');
  ca = await readFile(first.cert);
  // The files the server is configured with; a reload test rewrites them.
  await writeFile(join(dir, 'live.crt'), ca);
  await writeFile(join(dir, 'live.key'), await readFile(first.key));
  srv = await startServer({ HUBBUB_TLS_CERT: join(dir, 'live.crt'), HUBBUB_TLS_KEY: join(dir, 'live.key') });
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('TLS settings', () => {
  it('needs both the certificate and the key', () => {
    expect(() => loadConfig({ env: { HUBBUB_TLS_CERT: '/x.crt' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { HUBBUB_TLS_KEY: '/x.key' } })).toThrow(/both --tls-cert and --tls-key/);
  });
});

describe('HTTPS front door', () => {
  it('reports an https URL and answers REST over TLS', async () => {
    expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetchTls(`${srv.url}/health`, ca);
    expect([health.status, health.certName]).toEqual([200, 'first']);
    expect((await publishTls(srv, ca, 'tls:rest', 1)).status).toBe(200);
  });

  it('upgrades WebSockets over TLS (wss) and delivers to them', async () => {
    const peer = await connectWs(srv.wsUrl, { ca });
    expect(srv.wsUrl).toMatch(/^wss:/);
    peer.send({ id: 1, type: 'subscribe', channel: 'tls:ws' });
    await peer.next('subscribed');
    expect((await publishTls(srv, ca, 'tls:ws', 'over wss')).status).toBe(200);
    expect((await peer.next('publication')).data).toBe('over wss');
    await peer.close();
  });

  it('streams SSE over TLS', async () => {
    let text = '';
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${srv.url}/sse?channels=tls:sse`, { ca, agent: false }, resolve).on('error', reject).end();
    });
    expect(stream.statusCode).toBe(200);
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    await vi.waitFor(() => expect(text).toMatch(/event: subscribed/), WAIT);
    expect((await publishTls(srv, ca, 'tls:sse', 'over tls')).status).toBe(200);
    await vi.waitFor(() => expect(text).toMatch(/event: publication\n.*"over tls"/), WAIT);
    stream.destroy();
  });

  it('answers long-polls over TLS', async () => {
    const poll = await fetchTls(`${srv.url}/poll?channels=tls:poll&timeout=0`, ca);
    expect(poll.status).toBe(200);
    expect(PollResponse.parse(JSON.parse(poll.body)).subscriptions.map((s) => s.channel)).toEqual(['tls:poll']);
  });
});

describe('reloading the certificate', () => {
  it('serves a renewed certificate to new connections; an open wss connection stays; a key that does not match changes nothing', async () => {
    const open = await connectWs(srv.wsUrl, { ca });
    open.send({ id: 1, type: 'subscribe', channel: 'tls:reload' });
    await open.next('subscribed');
    const second = makeCert(dir, 'second');
    const ca2 = await readFile(second.cert);
    const both = Buffer.concat([ca, ca2]);

    // A renewal rewrites the files at the same paths.
    await writeFile(join(dir, 'live.crt'), ca2);
    await writeFile(join(dir, 'live.key'), await readFile(second.key));
    expect(srv.app.reload(srv.app.config)).toEqual({ applied: [], needsRestart: [] });
    expect((await fetchTls(`${srv.url}/health`, both)).certName).toBe('second');

    // A certificate whose key does not match: refused, the renewed one stays.
    await writeFile(join(dir, 'live.key'), await readFile(first.key));
    expect(() => srv.app.reload(srv.app.config)).toThrow(ReloadError);
    expect((await fetchTls(`${srv.url}/health`, both)).certName).toBe('second');

    expect((await publishTls(srv, both, 'tls:reload', 'still open')).status).toBe(200);
    expect((await open.next('publication')).data).toBe('still open');
    await open.close();
    // TLS sockets are tracked (for shutdown) and let go when they close.
    await vi.waitFor(() => expect(srv.app.registries().sockets).toBe(0), WAIT);
  });
});
