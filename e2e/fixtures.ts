import { test as base, expect } from '@playwright/test';
import { type HubbubApp, createHubbub } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { memoryLogger } from '../server/logger.js';

export const API_KEY = 'test-key-0123456789abcdef';

export interface HubbubServer {
  app: HubbubApp;
  /** http://127.0.0.1:<port> */
  url: string;
  apiKey: string;
  /** Publishes through the REST API, as any producer would. */
  publish(channel: string, data: unknown): Promise<{ channel: string; epoch: string; offset: number }>;
}

/**
 * One real server per test, on port 0, closed afterwards: specs never share state and never
 * depend on a fixed port. `page` is bound to the server with `baseURL`, so specs use relative URLs.
 */
export const test = base.extend<{ hubbub: HubbubServer }>({
  // The empty pattern is how Playwright declares a fixture without dependencies.
  hubbub: async ({}, use, testInfo) => {
    const config = loadConfig({ argv: [], env: { HUBBUB_API_KEY: API_KEY, HUBBUB_HOST: '127.0.0.1' } });
    const logger = memoryLogger();
    const app = createHubbub(config, { validateResponses: true, logger });
    await app.listen(0);
    const publish: HubbubServer['publish'] = async (channel, data) => {
      const res = await fetch(`${app.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data }),
      });
      if (res.status !== 200) throw new Error(`publish failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { channel: string; epoch: string; offset: number };
    };
    try {
      await use({ app, url: app.url, apiKey: API_KEY, publish });
    } finally {
      await app.close();
      if (testInfo.status !== testInfo.expectedStatus && logger.warnings.length > 0) {
        await testInfo.attach('server warnings', { body: logger.warnings.join('\n'), contentType: 'text/plain' });
      }
    }
  },
  baseURL: async ({ hubbub }, use) => {
    await use(hubbub.url);
  },
});

export { expect };
