import http from 'node:http';
import WebSocket from 'ws';

/** Called for every delivered publication with its `data`. */
export type OnData = (data: { i: number; t: number }) => void;

export interface BenchSubscriber {
  close(): void;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** A connection token when the bench runs with --auth; the subscribers then present it. */
export type Token = string | undefined;

export function wsSubscriber(url: string, channel: string, onData: OnData, token: Token): Promise<BenchSubscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
    ws.on('error', reject);
    ws.on('open', () => {
      if (token) ws.send(JSON.stringify({ id: 2, type: 'connect', token }));
      ws.send(JSON.stringify({ id: 1, type: 'subscribe', channel }));
    });
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'publication') onData(f.data);
      else if (f.type === 'subscribed') resolve({ close: () => ws.terminate() });
    });
  });
}

export function sseSubscriber(url: string, channel: string, onData: OnData, token: Token): Promise<BenchSubscriber> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.get(`${url}/sse?channels=${channel}`, { agent, headers }, (res) => {
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (block.includes('event: subscribed')) resolve({ close: () => req.destroy() });
          else if (block.includes('event: publication')) {
            const data = block.slice(block.indexOf('data: ') + 6);
            onData(JSON.parse(data).data);
          }
        }
      });
    });
    req.on('error', reject);
  });
}

function getJson(url: string, token: Token): Promise<{ cursor: string; publications: Array<{ data: { i: number; t: number } }> }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    http
      .get(url, { agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode} ${body}`))));
      })
      .on('error', reject);
  });
}

export async function pollSubscriber(url: string, channel: string, onData: OnData, token: Token): Promise<BenchSubscriber> {
  let stopped = false;
  let cursor = (await getJson(`${url}/poll?channels=${channel}`, token)).cursor;
  void (async () => {
    while (!stopped) {
      try {
        const r = await getJson(`${url}/poll?channels=${channel}&cursor=${cursor}`, token);
        for (const p of r.publications) onData(p.data);
        cursor = r.cursor;
      } catch (err) {
        if (!stopped) console.error('poll failed', err);
        return;
      }
    }
  })();
  return { close: () => (stopped = true) };
}

export const SUBSCRIBERS = { websocket: wsSubscriber, sse: sseSubscriber, poll: pollSubscriber } as const;
