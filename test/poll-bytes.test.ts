import { describe, expect, it } from 'vitest';
import { PollResponse, type Publication } from '../contract/index.js';
import { startServer } from './support/server.js';

// --max-poll-bytes: a long-poll response is cut once it holds the cap's worth of publications; its
// cursor stops exactly after the last one sent, so the next poll carries on with no loss and no
// duplicate.

/** vi.waitFor's 1 s default is short for a loaded two-core machine running real servers. */
const SLOW = { timeout: 5_000 };

const CAP = 1024;

async function pollRaw(url: string, channels: string[], cursor: string) {
  const res = await fetch(`${url}/poll?channels=${channels.join(',')}&cursor=${cursor}`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { bytes: Buffer.byteLength(text), body: PollResponse.parse(JSON.parse(text)) };
}

/** Polls from `cursor` until `total` publications came; returns them and every response. */
async function drain(url: string, channels: string[], cursor: string, total: number) {
  const got: Publication[] = [];
  const responses: Array<{ bytes: number; cursor: string; publications: Publication[] }> = [];
  while (got.length < total) {
    const { bytes, body } = await pollRaw(url, channels, cursor);
    responses.push({ bytes, cursor: body.cursor, publications: body.publications });
    got.push(...body.publications);
    cursor = body.cursor;
  }
  return { got, responses, sizes: responses.map((r) => r.bytes) };
}

describe('long-poll responses capped in bytes (--max-poll-bytes)', () => {
  it('cuts a response past the cap and continues exactly where it stopped: everything arrives once, in order', async () => {
    await using srv = await startServer({ HUBBUB_MAX_POLL_BYTES: String(CAP) });
    const total = 40;
    let epoch = '';
    for (let i = 1; i <= total; i++) epoch = (await srv.publish('big:one', { i, pad: 'x'.repeat(100) })).epoch;
    const largest = Math.max(...(await srv.app.hub.history('big:one')).publications.map((p) => Buffer.byteLength(JSON.stringify(p))));

    const { got, sizes, responses } = await drain(srv.url, ['big:one'], `${epoch}:0`, total);
    expect(got.map((p) => p.offset)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(CAP + largest);
    // Each response's cursor is its own last publication: the next poll starts right after it.
    for (const r of responses) expect(r.cursor).toBe(`${epoch}:${r.publications.at(-1)!.offset}`);
  });

  it('with several channels, each channel’s cursor entry stops after its own last publication sent', async () => {
    await using srv = await startServer({ HUBBUB_MAX_POLL_BYTES: String(CAP) });
    const per = 20;
    const epochs: Record<string, string> = {};
    for (let i = 1; i <= per; i++) {
      for (const c of ['big:a', 'big:b']) epochs[c] = (await srv.publish(c, { i, pad: 'y'.repeat(80) })).epoch;
    }
    const { got, sizes } = await drain(srv.url, ['big:a', 'big:b'], `${epochs['big:a']}:0,${epochs['big:b']}:0`, 2 * per);
    for (const c of ['big:a', 'big:b']) {
      expect(got.filter((p) => p.channel === c).map((p) => p.offset)).toEqual(Array.from({ length: per }, (_, i) => i + 1));
    }
    expect(sizes.length).toBeGreaterThan(2);
    const largest = Math.max(...got.map((p) => Buffer.byteLength(JSON.stringify(p))));
    for (const size of sizes) expect(size).toBeLessThanOrEqual(CAP + largest);
  });

  it('a waiting poll woken by a burst is cut the same way, and the next polls bring the rest', async () => {
    await using srv = await startServer({ HUBBUB_MAX_POLL_BYTES: String(CAP) });
    const { epoch, offset } = await srv.publish('big:live', 'start');
    const total = 30;
    const waiting = pollRaw(srv.url, ['big:live'], `${epoch}:${offset}`);
    await expect.poll(() => srv.app.registries().transports.poll, SLOW).toBe(1);
    await Promise.all(Array.from({ length: total }, (_, i) => srv.publish('big:live', { i, pad: 'w'.repeat(100) })));
    const first = await waiting;
    expect(first.body.publications.length).toBeLessThan(total);
    const rest = await drain(srv.url, ['big:live'], first.body.cursor, total - first.body.publications.length);
    const offsets = [...first.body.publications, ...rest.got].map((p) => p.offset);
    expect(offsets).toEqual(Array.from({ length: total }, (_, i) => offset + 1 + i));
  });

  it('a single publication larger than the cap still goes out, alone', async () => {
    await using srv = await startServer({ HUBBUB_MAX_POLL_BYTES: String(CAP) });
    const { epoch } = await srv.publish('big:huge', { pad: 'z'.repeat(CAP * 2) });
    await srv.publish('big:huge', 'small');
    const { got, sizes } = await drain(srv.url, ['big:huge'], `${epoch}:0`, 2);
    expect(got.map((p) => p.offset)).toEqual([1, 2]);
    expect(sizes).toHaveLength(2);
  });
});
