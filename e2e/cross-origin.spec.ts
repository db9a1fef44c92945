import { type Server, createServer } from 'node:http';
import type { Page } from '@playwright/test';
import { SignJWT } from 'jose';
import { type HubbubServer, expect, startHubbub, test } from './fixtures.js';

// A page of another web app (another origin) uses Hubbub from the browser: it loads the client
// bundle from Hubbub's origin and subscribes over each transport when its origin is in
// --allowed-origins, and is refused when it is not. Hubbub listens on 127.0.0.1:<p1>, the app on
// localhost:<p2>: two origins, as the browser counts them.

const TRANSPORTS = ['websocket', 'sse', 'poll'] as const;
const USER = 'ada';
const FEED = `notifications:#${USER}`;
const CHAT = 'chat:lobby';

/** What the app page records (window.out). */
interface Out {
  imported?: 'from hubbub' | 'self-hosted copy';
  importError?: string;
  states: string[];
  disconnects: string[];
  subscribed: string[];
  received: Array<{ channel: string; data: unknown; publisher?: { user: string }; tags?: Record<string, string> }>;
}

/** The app's page: the config is data, the script the same for every case. */
function appPage(config: { hubbub: string; transport: string; token: string; channels: string[] }): string {
  return `<!doctype html><meta charset="utf-8"><title>another app</title>
<script type="application/json" id="config">${JSON.stringify(config)}</script>
<script type="module">
const config = JSON.parse(document.getElementById('config').textContent);
const out = (window.out = { states: [], disconnects: [], subscribed: [], received: [] });
let client;
try {
  client = await import(config.hubbub + '/client/hubbub.js');
  out.imported = 'from hubbub';
} catch (err) {
  // An app may bundle the client itself; then only the connection can be refused.
  out.importError = String(err);
  client = await import('/hubbub.js');
  out.imported = 'self-hosted copy';
}
const hub = new client.Hubbub(config.hubbub, { transports: [config.transport], token: config.token, minReconnectDelay: 50, maxReconnectDelay: 200 });
window.hub = hub;
hub.on('state', (s) => out.states.push(s));
hub.on('disconnected', (d) => out.disconnects.push(d.reason));
for (const channel of config.channels) {
  hub.subscribe(channel, {
    onSubscribed: (r) => out.subscribed.push(r.channel),
    onPublication: (p) => out.received.push({ channel: p.channel, data: p.data, publisher: p.publisher, tags: p.tags }),
  });
}
</script>`;
}

interface App {
  origin: string;
  server: Server;
}

/** The other app: a tiny static server for its page and its own copy of the client bundle. */
async function startApp(files: Map<string, () => Promise<string>>): Promise<App> {
  const server = createServer((req, res) => {
    const file = files.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end();
    file().then(
      (body) => res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html' : 'text/javascript' }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { origin: `http://localhost:${port}`, server };
}

const out = (page: Page): Promise<Out> => page.evaluate(() => (window as unknown as { out: Out }).out);

/** Publishes from the page through its client; resolves with the result or the error the client reports. */
const publishFromPage = (page: Page, channel: string, data: unknown) =>
  page.evaluate(
    ([c, d]) =>
      (window as unknown as { hub: { publish(c: string, d: unknown): Promise<{ offset: number }> } }).hub.publish(c, d).then(
        (r) => `published at ${r.offset}`,
        (e: { name: string; code?: string }) => `${e.name} ${e.code ?? ''}`,
      ),
    [channel, data] as const,
  );

async function devToken(hubbub: HubbubServer): Promise<string> {
  const secret = new TextEncoder().encode(hubbub.config.devTokenSecret);
  return new SignJWT({ info: { name: 'Ada' } }).setProtectedHeader({ alg: 'HS256' }).setSubject(USER).setIssuedAt().setExpirationTime('10m').sign(secret);
}

/**
 * What the browser's network layer saw of Hubbub's HTTP answers, from the DevTools protocol: a
 * CORS refusal hides the status from the page (and from Playwright's request events), not from it.
 * One line per request: `GET /sse 403 MissingAllowOriginHeader`.
 */
async function recordHttp(page: Page, hubbubUrl: string): Promise<() => string[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const seen = new Map<string, { method?: string; path?: string; status?: number; cors?: string }>();
  const entry = (id: string) => seen.get(id) ?? seen.set(id, {}).get(id)!;
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!e.request.url.startsWith(hubbubUrl)) return;
    Object.assign(entry(e.requestId), { method: e.request.method, path: new URL(e.request.url).pathname });
  });
  // Extra info may come before the request itself: entries are merged by id whatever the order.
  cdp.on('Network.responseReceivedExtraInfo', (e) => void (entry(e.requestId).status = e.statusCode));
  cdp.on('Network.loadingFailed', (e) => void (entry(e.requestId).cors = e.corsErrorStatus?.corsError));
  return () => [...seen.values()].filter((r) => r.path !== undefined).map((r) => `${r.method} ${r.path} ${r.status ?? '-'} ${r.cors ?? 'ok'}`);
}

for (const transport of TRANSPORTS) {
  test(`${transport}: a page on another origin loads the client from Hubbub and subscribes when its origin is allowed`, async ({ page }) => {
    await using site = await startSite(transport, {});
    const { hubbub } = site;
    await page.goto(site.app.origin);
    await expect.poll(async () => (await out(page)).subscribed.sort()).toEqual([CHAT, FEED]);
    const o = await out(page);
    expect(o.imported, o.importError).toBe('from hubbub');
    expect(await page.evaluate(() => (window as unknown as { hub: { transport: string } }).hub.transport)).toBe(transport);

    // The user channel needs the token: it crossed origins too.
    await hubbub.publish(FEED, { title: 'to another origin' });
    // A client publish from the page: a WebSocket frame, or POST /publish with a preflight for SSE and poll.
    expect(await publishFromPage(page, CHAT, { text: 'from another origin' })).toMatch(/^published at \d+$/);
    await expect
      // The chat also carries the page's own join (an identified user): not what this checks.
      .poll(async () => (await out(page)).received.filter((r) => r.tags?.['hubbub'] === undefined))
      .toEqual([
        { channel: FEED, data: { title: 'to another origin' } },
        { channel: CHAT, data: { text: 'from another origin' }, publisher: expect.objectContaining({ user: USER }) },
      ]);
  });

  test(`${transport}: a page on an origin that is not allowed is refused, and its client says so`, async ({ page }) => {
    await using site = await startSite(transport, { refused: true });
    const http = await recordHttp(page, site.hubbub.url);
    const socketErrors: string[] = [];
    page.on('websocket', (ws) => ws.on('socketerror', (e) => socketErrors.push(e)));
    await page.goto(site.app.origin);

    // The bundle itself is refused (CORS); an app that bundles the client gets no further.
    await expect.poll(async () => (await out(page)).imported).toBe('self-hosted copy');
    expect((await out(page)).importError).toMatch(/Failed to fetch dynamically imported module/);
    await expect.poll(async () => (await out(page)).disconnects.length).toBeGreaterThanOrEqual(2);
    const o = await out(page);
    expect(o.states, 'never connected').not.toContain('connected');
    expect(o.subscribed).toEqual([]);
    expect(await publishFromPage(page, CHAT, { text: 'refused' })).toBe('HubbubError unavailable');

    await expect.poll(() => http()).toContain('GET /client/hubbub.js 403 MissingAllowOriginHeader');
    if (transport === 'websocket') {
      await expect.poll(() => socketErrors).toContain('Error during WebSocket handshake: Unexpected response code: 403');
    } else if (transport === 'sse') {
      await expect.poll(() => http()).toContain('GET /sse 403 MissingAllowOriginHeader');
    } else {
      // The poll request carries the token in a header, so the browser asks first: the preflight is refused.
      await expect.poll(() => http()).toContain('OPTIONS /poll 403 ok');
      await expect.poll(() => http()).toContain('GET /poll - PreflightMissingAllowOriginHeader');
    }
  });
}

interface Site extends AsyncDisposable {
  app: App;
  hubbub: HubbubServer;
}

/**
 * The other app and a Hubbub that allows its origin, or (refused) only an unrelated one. The app
 * serves its page and a copy of the client bundle (fetched without an Origin, as a build would).
 */
async function startSite(transport: string, { refused = false }: { refused?: boolean }): Promise<Site> {
  const files = new Map<string, () => Promise<string>>();
  const app = await startApp(files);
  const hubbub = await startHubbub({ HUBBUB_ALLOWED_ORIGINS: refused ? 'http://localhost:1' : app.origin });
  const token = await devToken(hubbub);
  files.set('/', async () => appPage({ hubbub: hubbub.url, transport, token, channels: [FEED, CHAT] }));
  files.set('/hubbub.js', async () => (await fetch(`${hubbub.url}/client/hubbub.js`)).text());
  return {
    app,
    hubbub,
    async [Symbol.asyncDispose]() {
      await hubbub.close();
      // The page may still hold a kept-alive connection: without this, a failed expectation would
      // hang here and be reported as the test's timeout instead of its own message.
      app.server.closeAllConnections();
      await new Promise((resolve) => app.server.close(resolve));
    },
  };
}
