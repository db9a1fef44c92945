import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubbubApp } from '../../server/app.js';
import { freshPrefix, startNode } from './cluster.js';
import { NatsServer } from './nats-server.js';
import { startServer } from './server.js';

// A Hubbub configured the way an operator would: a YAML config file (HUBBUB_CONFIG) and a token
// secret (HUBBUB_TOKEN_SECRET), on the memory backbone or on a real nats-server.

export type Backbone = 'memory' | 'nats';
export const BACKBONES: Backbone[] = ['memory', 'nats'];

export interface ConfiguredServer {
  url: string;
  app: HubbubApp;
  /** The secret the server verifies tokens with: sign test tokens with it. */
  secret: string;
  publish(channel: string, data: unknown): Promise<{ epoch: string; offset: number }>;
  /** A REST call with the API key. */
  api(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function startConfigured(backbone: Backbone, yaml: string, env: Record<string, string> = {}): Promise<ConfiguredServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-config-'));
  const config = join(dir, 'hubbub.yaml');
  await writeFile(config, yaml);
  const secret = randomBytes(24).toString('hex');
  const fullEnv = { HUBBUB_CONFIG: config, HUBBUB_TOKEN_SECRET: secret, ...env };
  const removeDir = () => rm(dir, { recursive: true, force: true });
  if (backbone === 'memory') {
    const srv = await startServer(fullEnv);
    return { url: srv.url, app: srv.app, secret, publish: srv.publish, api: srv.api, close: async () => (await srv.close(), await removeDir()) };
  }
  const nats = await NatsServer.start();
  try {
    const node = await startNode('m1', [nats.url], freshPrefix(), fullEnv);
    return {
      url: node.url,
      app: node.app,
      secret,
      publish: node.publish,
      api: node.api,
      close: async () => {
        await node.close();
        await nats.close();
        await removeDir();
      },
    };
  } catch (err) {
    await nats.close();
    await removeDir();
    throw err;
  }
}
