import { randomBytes } from 'node:crypto';
import { type HubbubApp, createHubbub } from '../../server/app.js';
import { connectBackbone } from '../../server/backbone.js';
import { loadConfig } from '../../server/config.js';
import { memoryLogger } from '../../server/logger.js';
import { type MainProcess, spawnMain } from './main-process.js';
import { NatsServer } from './nats-server.js';
import { TEST_API_KEY } from './server.js';

/** One Hubbub node, in this process or in a child process, seen from a test. */
export interface TestNode {
  id: string;
  url: string;
  publish(channel: string, data: unknown): Promise<{ epoch: string; offset: number }>;
  /** A REST call with the API key; returns the raw response. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

export interface InProcessNode extends TestNode {
  app: HubbubApp;
  warnings: string[];
  close(): Promise<void>;
}

function restClient(id: string, url: () => string): TestNode {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(url() + path, {
      ...init,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  return {
    id,
    get url() {
      return url();
    },
    api,
    async publish(channel, data) {
      const res = await api('/api/publish', { method: 'POST', body: JSON.stringify({ channel, data }) });
      if (res.status !== 200) throw new Error(`publish on ${id}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { epoch: string; offset: number };
    },
  };
}

/** A fresh subject prefix per test, so tests sharing one nats-server never see each other's channels. */
export function freshPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

function nodeEnv(id: string, natsUrls: string[], prefix: string, env: Record<string, string>) {
  return {
    HUBBUB_API_KEY: TEST_API_KEY,
    HUBBUB_HOST: '127.0.0.1',
    HUBBUB_PORT: '0',
    HUBBUB_NODE_ID: id,
    HUBBUB_NATS_URL: natsUrls.join(','),
    HUBBUB_NATS_PREFIX: prefix,
    HUBBUB_SHUTDOWN_TIMEOUT: '2',
    ...env,
  };
}

/** A node in this process (fast to start; cannot be kill -9'd: use spawnNode for that). */
export async function startNode(id: string, natsUrls: string[], prefix: string, env: Record<string, string> = {}): Promise<InProcessNode> {
  const config = loadConfig({ env: nodeEnv(id, natsUrls, prefix, env) });
  const logger = memoryLogger();
  const app = createHubbub(config, { logger, validateResponses: true, ...(await connectBackbone(config, logger)) });
  await app.listen(0);
  return { ...restClient(id, () => app.url), app, warnings: logger.warnings, close: () => app.close() };
}

export interface NodeProcess extends TestNode, Omit<MainProcess, 'url'> {}

/** A node in its own process, so a test can kill -9 it. */
export async function spawnNode(id: string, natsUrls: string[], prefix: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  const main = await spawnMain([], { PATH: process.env.PATH ?? '', ...nodeEnv(id, natsUrls, prefix, env) });
  return { ...main, ...restClient(id, () => main.url) };
}

export interface ClusterFixture extends AsyncDisposable {
  nats: NatsServer;
  prefix: string;
  nodes: InProcessNode[];
  close(): Promise<void>;
}

/** One nats-server and `count` in-process nodes n1…nN on it. */
export async function startCluster(count = 3, env: Record<string, string> = {}): Promise<ClusterFixture> {
  const nats = await NatsServer.start();
  const prefix = freshPrefix();
  const nodes: InProcessNode[] = [];
  try {
    for (let i = 1; i <= count; i++) nodes.push(await startNode(`n${i}`, [nats.url], prefix, env));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.close()));
    await nats.close();
    throw err;
  }
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await nats.close();
  };
  return { nats, prefix, nodes, close, [Symbol.asyncDispose]: close };
}
