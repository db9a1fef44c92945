import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE, ErrorBody, HistoryResponse, PositionText, parseCursor, parsePosition } from '../contract/index.js';
import { type TestServer, startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

// Every way a client names a position or a count, fed offsets past 2^53 - 1 and other malformed
// numbers: each must be refused with a 400 from the error table, never read as "no position".

const UNSAFE = ['9999999999999999', '9007199254740992'];
const SAFE_MAX = String(Number.MAX_SAFE_INTEGER);

describe('position text', () => {
  it.each(UNSAFE)('PositionText refuses offset %s instead of yielding undefined', (offset) => {
    expect(parsePosition(`e:${offset}`)).toBeUndefined();
    const r = PositionText.safeParse(`e:${offset}`);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/2\^53/);
    expect(parseCursor(`e:1,e:${offset}`, 2)).toBeUndefined();
  });

  it('PositionText keeps the largest safe offset', () => {
    expect(PositionText.parse(`e:${SAFE_MAX}`)).toEqual({ epoch: 'e', offset: Number.MAX_SAFE_INTEGER });
  });
});

describe('position and count inputs on a real server', () => {
  let srv: TestServer;
  let epoch: string;
  beforeAll(async () => {
    srv = await startServer();
    epoch = (await srv.publish('pos', 'one')).epoch;
    await srv.publish('pos', 'two');
  });
  afterAll(() => srv.close());

  async function expectError(res: Response, code: keyof typeof ERROR_TABLE, path?: string): Promise<void> {
    const body = ErrorBody.parse(await res.json());
    expect({ status: res.status, code: body.code }).toEqual({ status: ERROR_TABLE[code].status, code });
    if (path) expect(body.issues?.map((i) => i.path)).toContain(path);
  }

  it.each(UNSAFE)('history since=<epoch>:%s is a 400, not the whole history', async (offset) => {
    await expectError(await srv.api(`/api/channels/pos/history?since=${epoch}:${offset}`), 'bad_request', 'query.since');
  });

  it('history since=<epoch>:2^53-1 is read as a position (past the latest: unrecoverable)', async () => {
    await expectError(await srv.api(`/api/channels/pos/history?since=${epoch}:${SAFE_MAX}`), 'unrecoverable_position');
    const page = HistoryResponse.parse(await (await srv.api(`/api/channels/pos/history?since=${epoch}:1`)).json());
    expect(page.publications.map((p) => p.data)).toEqual(['two']);
  });

  it.each(['0', '1001', '1.5', '-1', '', 'abc', '1e400', 'Infinity', 'NaN'])('history limit=%s is a 400', async (limit) => {
    await expectError(await srv.api(`/api/channels/pos/history?limit=${limit}`), 'bad_request', 'query.limit');
  });

  it('history with since or limit given twice is a 400', async () => {
    await expectError(await srv.api(`/api/channels/pos/history?since=${epoch}:1&since=${epoch}:2`), 'bad_request', 'query.since');
    await expectError(await srv.api('/api/channels/pos/history?limit=1&limit=2'), 'bad_request', 'query.limit');
  });

  it.each(UNSAFE)('poll cursor with offset %s is invalid_cursor', async (offset) => {
    await expectError(await fetch(`${srv.url}/poll?channels=pos&cursor=${epoch}:${offset}&timeout=0`), 'invalid_cursor');
    await expectError(await fetch(`${srv.url}/poll?channels=a,pos&cursor=,${epoch}:${offset}&timeout=0`), 'invalid_cursor');
  });

  it.each(UNSAFE)('SSE cursor and Last-Event-ID with offset %s are invalid_cursor', async (offset) => {
    await expectError(await fetch(`${srv.url}/sse?channels=pos&cursor=${epoch}:${offset}`), 'invalid_cursor');
    const res = await fetch(`${srv.url}/sse?channels=pos`, { headers: { 'last-event-id': `${epoch}:${offset}` } });
    await expectError(res, 'invalid_cursor');
  });

  it.each([9999999999999999, 2 ** 53, 1.5, -1, '3'])('WebSocket subscribe since.offset=%s is invalid_frame for that id', async (offset) => {
    const peer = await connectWs(srv.wsUrl);
    peer.send(`{"id":7,"type":"subscribe","channel":"pos","since":{"epoch":"${epoch}","offset":${JSON.stringify(offset)}}}`);
    const err = await peer.next('error');
    expect(err).toMatchObject({ id: 7, code: 'invalid_frame' });
    expect(err.issues?.map((i) => i.path)).toContain('frame.since.offset');
    expect(peer.frames.filter((f) => f.type === 'subscribed')).toEqual([]);
    await peer.close();
  });

  it('WebSocket since.offset written as 9999999999999999 in the frame text is refused too', async () => {
    const peer = await connectWs(srv.wsUrl);
    peer.send(`{"id":8,"type":"subscribe","channel":"pos","since":{"epoch":"${epoch}","offset":9999999999999999}}`);
    expect(await peer.next('error')).toMatchObject({ id: 8, code: 'invalid_frame' });
    await peer.close();
  });
});
