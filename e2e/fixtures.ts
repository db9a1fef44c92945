import { test as base, expect, type Page } from '@playwright/test';
import { type HubbubApp, createHubbub } from '../server/app.js';
import { type Config, loadConfig } from '../server/config.js';
import { memoryLogger } from '../server/logger.js';

export const API_KEY = 'test-key-0123456789abcdef';

export interface HubbubServer {
  app: HubbubApp;
  config: Config;
  /** http://127.0.0.1:<port> */
  url: string;
  apiKey: string;
  warnings: string[];
  /** Publishes through the REST API, as any producer would. */
  publish(channel: string, data: unknown): Promise<{ channel: string; epoch: string; offset: number }>;
  close(): Promise<void>;
}

/**
 * A real server on 127.0.0.1 port 0, in development mode unless `env` gives a token key or a
 * config file (the demo signs in with dev tokens). Specs that need settings known only at run
 * time (an allowed origin with its port) call this themselves.
 */
export async function startHubbub(env: Record<string, string> = {}): Promise<HubbubServer> {
  const config = loadConfig({ argv: [], env: { HUBBUB_API_KEY: API_KEY, HUBBUB_HOST: '127.0.0.1', ...env } });
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
  return { app, config, url: app.url, apiKey: API_KEY, warnings: logger.warnings, publish, close: () => app.close() };
}

/**
 * One real server per test, on port 0, closed afterwards: specs never share state and never
 * depend on a fixed port. `page` is bound to the server with `baseURL`, so specs use relative URLs.
 */
export const test = base.extend<{ hubbub: HubbubServer }>({
  // The empty pattern is how Playwright declares a fixture without dependencies.
  hubbub: async ({}, use, testInfo) => {
    const server = await startHubbub();
    try {
      await use(server);
    } finally {
      await server.close();
      if (testInfo.status !== testInfo.expectedStatus && server.warnings.length > 0) {
        await testInfo.attach('server warnings', { body: server.warnings.join('\n'), contentType: 'text/plain' });
      }
    }
  },
  baseURL: async ({ hubbub }, use) => {
    await use(hubbub.url);
  },
});

/** What the demo page exposes for tests (`window.hubbubDemo`), without the client object. */
export interface DemoState {
  user: string;
  name: string;
  received: Array<{ channel: string; data: unknown; offset: number; tags?: Record<string, string> }>;
  states: Array<{ channel: string; recovered: boolean }>;
  members: Array<{ user: string; name: string }>;
}

export function demoState(page: Page): Promise<DemoState> {
  return page.evaluate(() => {
    const hook = (window as unknown as { hubbubDemo: DemoState & { members(): DemoState['members'] } }).hubbubDemo;
    return { user: hook.user, name: hook.name, received: hook.received, states: hook.states, members: hook.members() };
  });
}

/**
 * Opens the demo (`path` may carry `?transports=`) and signs in under `name`; returns the user id
 * the page chose. The caller waits for the connection (how long depends on the transport).
 */
export async function joinDemo(page: Page, name: string, path = '/'): Promise<string> {
  await page.goto(path);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-name').press('Enter');
  await expect(page.getByTestId('me')).toHaveText(name);
  return (await demoState(page)).user;
}

/** The demo's subscribe results cover the chat and the user's notifications channel. */
export async function subscribedToBoth(page: Page): Promise<void> {
  const user = (await demoState(page)).user;
  await expect
    .poll(async () => new Set((await demoState(page)).states.map((s) => s.channel)))
    .toEqual(new Set(['chat:lobby', `notifications:#${user}`]));
}

export { expect };
