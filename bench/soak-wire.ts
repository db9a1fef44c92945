// Raw wire helpers for the soak clients: node's http (not fetch) so a client can pause its socket,
// leave mid-response, or drop a request before any answer.
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import type { PollResponse } from '../contract/index.js';

/** One GET; `req.destroy()` leaves at any point. `agent: false` gives every request its own connection. */
export function get(url: string, agent: http.Agent | false = false): { req: ClientRequest; response: Promise<IncomingMessage> } {
  let req!: ClientRequest;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req = http.get(url, { agent }, resolve);
    req.on('error', reject);
  });
  // Whoever leaves early may never look at the promise again.
  response.catch(() => {});
  return { req, response };
}

export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => resolve(body));
    res.on('error', reject);
    res.on('close', () => reject(new Error('connection closed mid-response')));
  });
}

export async function pollJson(url: string, agent: http.Agent | false, onRequest?: (req: ClientRequest) => void): Promise<PollResponse> {
  const { req, response } = get(url, agent);
  onRequest?.(req);
  const res = await response;
  const body = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`poll ${res.statusCode} ${body.slice(0, 200)}`);
  return JSON.parse(body) as PollResponse;
}

/** Calls `onEvent` for every event of a text/event-stream response, then `onEnd` once. */
export function readSseEvents(res: IncomingMessage, onEvent: (event: string, data: string) => void, onEnd: (err?: Error) => void): void {
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  });
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    onEnd(err);
  };
  res.on('end', () => end());
  res.on('error', (err) => end(err));
  res.on('close', () => end(res.complete ? undefined : new Error('connection closed mid-stream')));
}

/** Reads in bursts: paused for `pauseMs`, reading for `readMs`, until stop(). */
export function slowly(pause: () => void, resume: () => void, pauseMs: number, readMs: number): { stop(): void } {
  let timer: NodeJS.Timeout;
  let stopped = false;
  const cycle = () => {
    if (stopped) return;
    pause();
    timer = setTimeout(() => {
      resume();
      timer = setTimeout(cycle, readMs);
    }, pauseMs);
  };
  cycle();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      resume();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
