import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi } from '../contract/asyncapi.js';
import { ASYNCAPI_URL, PROTOCOL_GUIDE_URL } from '../contract/openapi.js';
import { startServer } from './support/server.js';

// What /docs links to must be served: the page used to point at docs/protocol.md, a repository path
// no node serves. Checked black-box: every link of the served page and of the served OpenAPI
// document's descriptions is fetched.

const PROTOCOL_MD = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

/** Server-relative targets of Markdown links, `[text](/path)`, anywhere in a JSON document's strings. */
function markdownLinks(doc: unknown): string[] {
  return [...JSON.stringify(doc).matchAll(/\]\((\/[^)\s]*)\)/g)].map((m) => m[1]!);
}

describe('the documentation pages', () => {
  it('serves /asyncapi.json: the generated document, as JSON, revalidated like /openapi.json', async () => {
    await using srv = await startServer();
    const res = await fetch(srv.url + ASYNCAPI_URL);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe((await fetch(`${srv.url}/openapi.json`)).headers.get('cache-control'));
    expect(await res.json()).toEqual(buildAsyncApi());
    // A browser's revalidation; without its own cache-control, fetch would add `no-cache`, which forbids a 304.
    const revalidate = { 'if-none-match': res.headers.get('etag')!, 'cache-control': 'max-age=0' };
    const again = await fetch(srv.url + ASYNCAPI_URL, { headers: revalidate });
    expect(again.status).toBe(304);
  });

  it('serves the protocol guide as readable UTF-8 text', async () => {
    await using srv = await startServer();
    const res = await fetch(srv.url + PROTOCOL_GUIDE_URL);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe(PROTOCOL_MD);
  });

  it('resolves every link of /docs, its script and the OpenAPI descriptions it renders', async () => {
    await using srv = await startServer();
    const page = await (await fetch(`${srv.url}/docs`)).text();
    const attributes = [...page.matchAll(/(?:href|src)="(\/[^"]*)"/g)].map((m) => m[1]!);
    const init = await (await fetch(`${srv.url}/docs/assets/init.js`)).text();
    const specUrl = /url: '([^']+)'/.exec(init)?.[1];
    expect(specUrl).toBe('/openapi.json');
    const links = markdownLinks(await (await fetch(srv.url + specUrl)).json());
    expect(links).toContain(PROTOCOL_GUIDE_URL);
    expect(links).toContain(ASYNCAPI_URL);
    expect(attributes).toContain('/favicon.svg');
    for (const path of new Set([...attributes, ...links])) {
      expect((await fetch(srv.url + path)).status, path).toBe(200);
    }
  });

  it('answers the favicon at /favicon.svg (linked) and /favicon.ico (asked by browsers of any other page)', async () => {
    await using srv = await startServer();
    for (const path of ['/favicon.svg', '/favicon.ico']) {
      const res = await fetch(srv.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe('image/svg+xml');
      expect(await res.text(), path).toContain('<svg');
    }
    const demo = await (await fetch(`${srv.url}/`)).text();
    expect(demo).toContain('<link rel="icon" type="image/svg+xml" href="/favicon.svg">');
  });
});
