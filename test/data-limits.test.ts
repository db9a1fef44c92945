import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERROR_TABLE, ErrorBody, HistoryResponse, MAX_DATA_DEPTH, PublishRequest, dataProblem } from '../contract/index.js';
import { MemoryBroker } from '../server/broker/memory.js';
import { type RawSession, TRANSPORT_NAMES, openSession } from './support/raw-clients.js';
import { type TestServer, startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

// What `data` may be (docs/protocol.md, "What `data` may be"): nesting at most MAX_DATA_DEPTH levels,
// numbers finite. Anything else is refused before it is stored, so every transport can carry it.

/** JSON text of `depth` nested containers around `leaf`, alternating arrays and objects. */
function nested(depth: number, leaf = '1'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"k":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return open + leaf + close;
}

type Answer = { status: number; body: unknown };
const answer = async (res: Response): Promise<Answer> => ({ status: res.status, body: await res.json() });
const postRaw = (srv: TestServer, path: string, body: string) => srv.api(path, { method: 'POST', body }).then(answer);
const latestOffset = async (srv: TestServer, channel: string) =>
  HistoryResponse.parse(await (await srv.api(`/api/channels/${channel}/history`)).json()).offset;

function expectTableError(a: Answer, code: keyof typeof ERROR_TABLE): ErrorBody {
  expect(a.status).toBe(ERROR_TABLE[code].status);
  const body = ErrorBody.parse(a.body);
  expect(body.code).toBe(code);
  expect(body.retryable).toBe(ERROR_TABLE[code].retryable);
  return body;
}

describe('dataProblem counts depth as documented', () => {
  it('a scalar is depth 0, [] and {} are depth 1', () => {
    for (const v of [1, 'x', true, null, '[[[[not nested]]]]']) expect(dataProblem(v)).toBeUndefined();
    expect(dataProblem(JSON.parse(nested(1)))).toBeUndefined();
    expect(dataProblem(JSON.parse(nested(MAX_DATA_DEPTH, '[]')))).toMatchObject({ code: 'data_too_deep' });
    expect(dataProblem(JSON.parse(nested(MAX_DATA_DEPTH - 1, '{}')))).toBeUndefined();
  });

  it('exactly MAX_DATA_DEPTH levels pass, one more is refused, for arrays, objects and mixes', () => {
    for (const leaf of ['1', '"s"', 'null']) {
      expect(dataProblem(JSON.parse(nested(MAX_DATA_DEPTH, leaf)))).toBeUndefined();
      expect(dataProblem(JSON.parse(nested(MAX_DATA_DEPTH + 1, leaf)))?.code).toBe('data_too_deep');
    }
    const arrays = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n));
    expect(dataProblem(arrays(MAX_DATA_DEPTH))).toBeUndefined();
    expect(dataProblem(arrays(MAX_DATA_DEPTH + 1))?.code).toBe('data_too_deep');
    const objects = (n: number) => JSON.parse('{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1));
    expect(dataProblem(objects(MAX_DATA_DEPTH))).toBeUndefined();
    expect(dataProblem(objects(MAX_DATA_DEPTH + 1))?.code).toBe('data_too_deep');
  });

  it('finds the deep branch among wide shallow siblings, wherever it sits', () => {
    const wide: unknown[] = Array.from({ length: 1000 }, (_, i) => ({ i, tags: ['a', 'b'] }));
    expect(dataProblem(wide)).toBeUndefined();
    for (const at of [0, 500, 999]) {
      const withDeep = [...wide];
      withDeep[at] = { deep: JSON.parse(nested(MAX_DATA_DEPTH)) };
      expect(dataProblem(withDeep)?.code).toBe('data_too_deep');
    }
  });

  it('walks 200,000 levels without recursion', () => {
    const n = 200_000;
    expect(dataProblem(JSON.parse('['.repeat(n) + ']'.repeat(n)))?.code).toBe('data_too_deep');
  });

  it('refuses non-finite numbers and values JSON cannot carry; too deep wins over both', () => {
    const notFinite = { message: expect.stringMatching(/1e400/) };
    expect(dataProblem(JSON.parse('{"a":[1,1e400]}'))).toEqual(notFinite);
    expect(dataProblem(JSON.parse('-1e400'))).toEqual(notFinite);
    expect(dataProblem([undefined])).toEqual({ message: expect.stringMatching(/undefined/) });
    expect(dataProblem({ n: 10n })).toEqual({ message: expect.stringMatching(/bigint/) });
    expect(dataProblem(JSON.parse(`[1e400,${nested(MAX_DATA_DEPTH)}]`))?.code).toBe('data_too_deep');
    expect(dataProblem(JSON.parse(`[${nested(MAX_DATA_DEPTH)},1e400]`))?.code).toBe('data_too_deep');
    // Values that parse to a finite double are kept as parsed: 1e-400 is 0, big integers round.
    expect(dataProblem(JSON.parse('[1e-400,123456789012345678901234567890,-0]'))).toBeUndefined();
  });

  it('is enforced by the PublishRequest schema itself, with the data code on the issue', () => {
    const r = PublishRequest.safeParse({ channel: 'a', data: JSON.parse(nested(MAX_DATA_DEPTH + 1)) });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toMatchObject([{ path: ['data'], params: { errorCode: 'data_too_deep' } }]);
  });
});

describe('data limits on a real server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(() => srv.close());

  it('publish of data 8 KB and ~4,100 levels deep is refused with data_too_deep, not a 500', async () => {
    for (const depth of [4_100, 4_200, 10_000]) {
      const a = await postRaw(srv, '/api/publish', `{"channel":"overflow","data":${nested(depth)}}`);
      expectTableError(a, 'data_too_deep');
    }
    expect(await latestOffset(srv, 'overflow')).toBe(0);
  });

  it('publish of data one level deeper than the limit is refused and stores nothing', async () => {
    const a = await postRaw(srv, '/api/publish', `{"channel":"limit:pub","data":${nested(MAX_DATA_DEPTH + 1)}}`);
    const body = expectTableError(a, 'data_too_deep');
    expect(body.issues).toEqual([{ path: 'body.data', message: expect.stringContaining(String(MAX_DATA_DEPTH)) }]);
    expect(await latestOffset(srv, 'limit:pub')).toBe(0);
  });

  it('broadcast of data one level deeper than the limit is refused and stores nothing on any channel', async () => {
    const a = await postRaw(srv, '/api/broadcast', `{"channels":["limit:b1","limit:b2"],"data":${nested(MAX_DATA_DEPTH + 1)}}`);
    expectTableError(a, 'data_too_deep');
    expect(await latestOffset(srv, 'limit:b1')).toBe(0);
    expect(await latestOffset(srv, 'limit:b2')).toBe(0);
  });

  it.each(['1e400', '-1e400', '[1,{"x":1e999}]'])('publish of %s (not a finite double) is refused with bad_request', async (data) => {
    const a = await postRaw(srv, '/api/publish', `{"channel":"finite","data":${data}}`);
    const body = expectTableError(a, 'bad_request');
    expect(body.issues?.[0]).toMatchObject({ path: 'body.data', message: expect.stringMatching(/1e400/) });
    const b = await postRaw(srv, '/api/broadcast', `{"channels":["finite"],"data":${data}}`);
    expectTableError(b, 'bad_request');
    expect(await latestOffset(srv, 'finite')).toBe(0);
  });

  it('a tag named __proto__ is refused with bad_request instead of being dropped from the stored tags', async () => {
    const a = await postRaw(srv, '/api/publish', '{"channel":"tags:proto","data":1,"tags":{"a":"1","__proto__":"x"}}');
    const body = expectTableError(a, 'bad_request');
    expect(body.issues?.[0]).toMatchObject({ path: 'body.tags.__proto__' });
    expect(await latestOffset(srv, 'tags:proto')).toBe(0);
  });

  it('duplicate keys keep the last value, and only the kept value is checked', async () => {
    const data = `{"k":${nested(MAX_DATA_DEPTH + 1)},"n":1e400,"k":"kept","n":2}`;
    const a = await postRaw(srv, '/api/publish', `{"channel":"dup","data":${data}}`);
    expect(a.status).toBe(200);
    const history = HistoryResponse.parse(await (await srv.api('/api/channels/dup/history')).json());
    expect(history.publications.map((p) => p.data)).toEqual([{ k: 'kept', n: 2 }]);
  });

  it('a WebSocket command nested 30,000 levels deep is answered invalid_frame and the connection keeps serving', async () => {
    const peer = await connectWs(srv.wsUrl);
    const deep = '['.repeat(30_000) + ']'.repeat(30_000); // 60 KB: under the frame limit
    peer.send(`{"id":3,"type":"subscribe","channel":"ws:deep","since":${deep}}`);
    expect(await peer.next('error')).toMatchObject({ id: 3, code: 'invalid_frame' });
    peer.send({ id: 4, type: 'ping' });
    await peer.next('pong', (f) => f.id === 4);
    await peer.close();
  });

  it('a refused publish leaves the node serving everyone else', async () => {
    await postRaw(srv, '/api/publish', `{"channel":"x","data":${nested(50_000)}}`);
    expect((await srv.publish('after', 'ok')).offset).toBe(1);
  });
});

describe('data stored before the limit existed', () => {
  it('history that cannot be encoded answers the error table, not a plain-text 500', async () => {
    // Straight into the broker, as an older node could have stored it in a NATS stream.
    const broker = new MemoryBroker({ historySize: 10, historyTtlMs: 60_000, sweepIntervalMs: 0 });
    await broker.publish('legacy', JSON.parse(nested(20_000)));
    // Response validation (on in tests) would refuse the body first; production renders it unchecked.
    await using srv = await startServer({}, { broker, validateResponses: false });
    const res = await srv.api('/api/channels/legacy/history');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expectTableError({ status: res.status, body: await res.json() }, 'internal');
    expect((await srv.publish('after', 'ok')).offset).toBe(1);
  });
});

describe.each(TRANSPORT_NAMES)('data exactly MAX_DATA_DEPTH deep on %s', (transport) => {
  let srv: TestServer;
  const sessions: RawSession[] = [];
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await srv.close();
  });

  it('is delivered live, recovered across, and returned by history', async () => {
    const channel = `deep:${transport}`;
    const text = nested(MAX_DATA_DEPTH, '"bottom"');
    const data: unknown = JSON.parse(text);
    const first = await srv.publish(channel, 'before');
    const live = await openSession(transport, srv.url, [channel]);
    sessions.push(live);
    const stored = await postRaw(srv, '/api/publish', `{"channel":"${channel}","data":${text}}`);
    expect(stored).toMatchObject({ status: 200, body: { offset: 2 } });
    await vi.waitFor(() => expect(live.publications.map((p) => p.offset)).toEqual([2]));
    expect(live.publications[0]!.data).toEqual(data);

    // A subscriber recovering from before it gets it from the backlog, then what follows live.
    const recovering = await openSession(transport, srv.url, [channel], [{ epoch: first.epoch, offset: 1 }]);
    sessions.push(recovering);
    await srv.publish(channel, 'after');
    await vi.waitFor(() => expect(recovering.publications.map((p) => p.offset)).toEqual([2, 3]));
    expect(recovering.results[0]).toMatchObject({ recovered: true });
    expect(recovering.publications[0]!.data).toEqual(data);
    expect(recovering.disconnects).toEqual([]);

    const history = HistoryResponse.parse(await (await srv.api(`/api/channels/${channel}/history`)).json());
    expect(history.publications.map((p) => p.data)).toEqual(['before', data, 'after']);
  });
});
