// TOKEN_MAX_LENGTH is "the longest token a server accepts in a header, query parameter, cookie or
// frame" (contract/tokens.ts). The query parameter and the frames enforced it through their
// schemas; a correctly signed longer token in the Authorization header, a cookie or the upgrade's
// query was verified and accepted. Found by test/fuzz/tokens.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TOKEN_MAX_LENGTH } from '../contract/index.js';
import { type ConfiguredServer, startConfigured } from './support/configured-server.js';
import { signToken } from './support/tokens.js';

let srv: ConfiguredServer;
/** Correctly signed for ada, exactly `length` characters long. */
async function tokenOfLength(length: number): Promise<string> {
  const base = await signToken(srv.secret, { sub: 'ada', info: '' }, { expiresIn: 3600 });
  // Each 3 characters of info add 4 of base64url; pad, then trim to the exact length by trial.
  for (let pad = Math.floor(((length - base.length) * 3) / 4) - 3; ; pad++) {
    const token = await signToken(srv.secret, { sub: 'ada', info: 'i'.repeat(pad) }, { expiresIn: 3600 });
    if (token.length === length) return token;
    if (token.length > length) throw new Error(`no token of exactly ${length} characters`);
  }
}
let longest: string;
let tooLong: string;

beforeAll(async () => {
  srv = await startConfigured('memory', 'tokenCookie: hubbub_token\nnamespaces:\n  pub: { publish: authenticated }\n');
  // Lengths of a JWT move in steps of 1 or 2; search both neighbours of the limit.
  longest = await tokenOfLength(TOKEN_MAX_LENGTH).catch(() => tokenOfLength(TOKEN_MAX_LENGTH - 1));
  tooLong = await tokenOfLength(TOKEN_MAX_LENGTH + 1).catch(() => tokenOfLength(TOKEN_MAX_LENGTH + 2));
});
afterAll(() => srv?.close());

/** Status and error code of a WebSocket upgrade, 101 when it was accepted. */
function upgrade(query: string, headers: Record<string, string>): Promise<[number, string | undefined]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.url.replace('http', 'ws') + '/ws' + query, { headers });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve([res.statusCode ?? 0, (JSON.parse(Buffer.concat(chunks).toString()) as { code: string }).code]));
    });
    ws.on('open', () => (ws.close(), resolve([101, undefined])));
    ws.on('error', (err) => (err.message.startsWith('Unexpected server response') ? undefined : reject(err)));
  });
}

async function answers(token: string): Promise<Record<string, [number, string | undefined]>> {
  const http = async (path: string, init: RequestInit = {}): Promise<[number, string | undefined]> => {
    const res = await fetch(srv.url + path, init);
    return [res.status, res.status === 200 ? undefined : ((await res.json()) as { code: string }).code];
  };
  return {
    pollHeader: await http('/poll?channels=pub:x&timeout=0', { headers: { authorization: `Bearer ${token}` } }),
    pollCookie: await http('/poll?channels=pub:x&timeout=0', { headers: { cookie: `hubbub_token=${token}` } }),
    publishHeader: await http('/publish', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'pub:x', data: 1 }),
    }),
    upgradeHeader: await upgrade('', { authorization: `Bearer ${token}` }),
    upgradeQuery: await upgrade(`?token=${token}`, {}),
  };
}

describe('a token longer than TOKEN_MAX_LENGTH', () => {
  it('is refused as token_invalid in a header, a cookie and the upgrade query; one of the limit is accepted', async () => {
    expect(longest.length).toBeLessThanOrEqual(TOKEN_MAX_LENGTH);
    expect(tooLong.length).toBeGreaterThan(TOKEN_MAX_LENGTH);
    const ok: [number, undefined] = [200, undefined];
    expect(await answers(longest)).toEqual({ pollHeader: ok, pollCookie: ok, publishHeader: ok, upgradeHeader: [101, undefined], upgradeQuery: [101, undefined] });
    const refused: [number, string] = [401, 'token_invalid'];
    expect(await answers(tooLong)).toEqual({ pollHeader: refused, pollCookie: refused, publishHeader: refused, upgradeHeader: refused, upgradeQuery: refused });
  });
});
