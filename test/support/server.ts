import { type HubbubApp, type HubbubDeps, createHubbub } from '../../server/app.js';
import { type Config, loadConfig } from '../../server/config.js';
import { memoryLogger } from '../../server/logger.js';

export const TEST_API_KEY = 'test-api-key-0123456789';

export interface TestServer extends AsyncDisposable {
  app: HubbubApp;
  config: Config;
  url: string;
  wsUrl: string;
  warnings: string[];
  /** Publishes through the REST API, as a backend would. */
  publish(channel: string, data: unknown, extra?: Record<string, unknown>): Promise<{ epoch: string; offset: number }>;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Stops serving and listens again on the same port; hub and broker survive. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A real Hubbub on 127.0.0.1 port 0; `await using srv = await startServer()` closes it. */
export async function startServer(env: Record<string, string> = {}, deps: HubbubDeps = {}): Promise<TestServer> {
  const config = loadConfig({ env: { HUBBUB_API_KEY: TEST_API_KEY, HUBBUB_HOST: '127.0.0.1', HUBBUB_PORT: '0', ...env } });
  const logger = memoryLogger();
  const app = createHubbub(config, { logger, validateResponses: true, ...deps });
  await app.listen(0);
  const api = (path: string, init: RequestInit = {}) =>
    fetch(app.url + path, {
      ...init,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const close = () => app.close();
  return {
    app,
    config,
    get url() {
      return app.url;
    },
    get wsUrl() {
      return app.url.replace('http', 'ws') + '/ws';
    },
    warnings: logger.warnings,
    api,
    async publish(channel, data, extra = {}) {
      const res = await api('/api/publish', { method: 'POST', body: JSON.stringify({ channel, data, ...extra }) });
      if (res.status !== 200) throw new Error(`publish failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { epoch: string; offset: number };
    },
    async restart() {
      const port = app.port;
      await app.stop();
      await app.listen(port, '127.0.0.1');
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
