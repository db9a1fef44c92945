// Cheap raw clients for churn tests: each opens its own TCP connection (no keep-alive pool, so
// the server's socket registry sees every cycle) and can leave before the server answers.
import { type IncomingMessage, request } from 'node:http';
import WebSocket from 'ws';

/** Runs `cycle(i)` for every i below `count`, at most `concurrency` at a time; the first failure rejects. */
export async function runCycles(count: number, concurrency: number, cycle: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await cycle(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface OpenRequest {
  /** Resolves with the response head once the server starts answering. */
  readonly response: Promise<IncomingMessage>;
  /** Drops the connection (the client leaves first); resolves once its socket is closed. */
  leave(): Promise<void>;
}

/** A GET on a fresh socket. */
export function openRequest(url: string): OpenRequest {
  const req = request(url, { agent: false });
  const closed = new Promise<void>((resolve) => req.once('close', () => resolve()));
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // leave() destroys the request on purpose: the resulting abort error is expected.
  response.catch(() => undefined);
  req.end();
  return {
    response,
    leave() {
      req.destroy();
      return closed;
    },
  };
}

/** Reads a whole response body as text. */
export async function readBody(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
}

/** Resolves once the response's text so far contains `marker`. */
export function waitForText(res: IncomingMessage, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes(marker)) return;
      res.off('data', onData);
      resolve();
    };
    res.on('data', onData);
    res.once('error', reject);
    res.once('end', () => reject(new Error(`the response ended before ${JSON.stringify(marker)}: ${text.slice(0, 300)}`)));
  });
}

/** Opens an SSE stream on `channel`, waits for its subscribed event, then the client drops the connection. */
export async function sseSubscribeAndLeave(baseUrl: string, channel: string): Promise<void> {
  const stream = openRequest(`${baseUrl}/sse?channels=${encodeURIComponent(channel)}`);
  const res = await stream.response;
  if (res.statusCode !== 200) throw new Error(`sse: ${res.statusCode} ${await readBody(res)}`);
  await waitForText(res, 'event: subscribed');
  await stream.leave();
}

/** Connects a WebSocket, subscribes to `channel`, waits for the reply, then the client closes. */
export async function wsSubscribeAndLeave(baseUrl: string, channel: string): Promise<void> {
  const ws = new WebSocket(baseUrl.replace('http', 'ws') + '/ws');
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const subscribed = new Promise<void>((resolve, reject) => {
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type: string };
      if (frame.type === 'subscribed') resolve();
      else if (frame.type === 'error') reject(new Error(`websocket subscribe failed: ${raw.toString()}`));
    });
    ws.once('error', reject);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ id: 1, type: 'subscribe', channel }));
  await subscribed;
  ws.close();
  await closed;
}

/** One long-poll answered in full; returns its cursor. */
export async function pollAnswered(baseUrl: string, channel: string, cursor?: string): Promise<string> {
  const params = new URLSearchParams({ channels: channel });
  if (cursor !== undefined) params.set('cursor', cursor);
  const res = await openRequest(`${baseUrl}/poll?${params}`).response;
  const body = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`poll: ${res.statusCode} ${body}`);
  return (JSON.parse(body) as { cursor: string }).cursor;
}
