import WebSocket from 'ws';
import { vi } from 'vitest';
import { emptyEpoch } from '../../contract/empty-epoch.js';
import { SSE_EVENTS } from '../../contract/index.js';
import { type Example, type ExampleLanguage, type Step, parseAction, parseHttpMessage, requestLine } from '../../docs/examples.js';
import type { TestServer } from './server.js';

/**
 * Replays the transcripts of docs/protocol.md against a real server. The client's lines (`>`) and
 * the other party's actions (`!`) are performed in order; every server line (`<`) becomes one
 * expected item, paired with what the server really sent. A test compares the two lists, so a
 * mismatch shows as a diff of the transcript.
 */

/** What this runner can replay; an example of any other kind fails instead of passing unchecked. */
export const RUNNABLE_LANGUAGES: readonly ExampleLanguage[] = ['ws', 'sse', 'http'];
export const RUNNABLE_ACTIONS = ['publish', 'shutdown'] as const;

/** How the doc writes the values the server chooses ("Reading the examples"). */
export const EPOCH_PLACEHOLDERS: Readonly<Record<string, string>> = { k3x9a1: 'chat:lobby', p0q7: 'notifications:demo' };
const NODE_PLACEHOLDER = 'node-a1';
/**
 * Empty positions (`0<time>:0`) carry the time a channel was seen empty, which differs on every run:
 * the doc writes them at 1732240000000 (`00m3s2yy9s`). Compared as masked on both sides; in a client
 * line one becomes the time it is sent, as a client's cursor would be (an old one is refused).
 */
const EMPTY_EPOCHS = /(?<![A-Za-z0-9_-])0[0-9a-z]{9}(?![A-Za-z0-9_-])/g;
const EMPTY_MASK = '<empty epoch>';
const maskEmpty = (text: string) => text.replace(EMPTY_EPOCHS, EMPTY_MASK);
const KEY_PLACEHOLDER = '<key>';
/** JSON fields whose values differ on every run: only their presence is compared. */
const VARYING_FIELDS = new Set(['time', 'client', 'node', 'version']);
const VARIES = '<varies>';
/** The SSE ping event comes every ping interval, whenever that falls: not part of any transcript. */
const HEARTBEAT = `event: ${SSE_EVENTS.ping}\ndata: {}`;
/** A command id no example uses: its pong proves the server sent nothing after the transcript. */
const PROBE_ID = 2 ** 31 - 1;
const SENTINEL = { sentinel: 'end of transcript' };

export interface Transcript {
  expected: unknown[];
  actual: unknown[];
}

export class UnsupportedExampleError extends Error {
  override readonly name = 'UnsupportedExampleError';
}

/** Why the runner cannot replay an example faithfully; empty when it can. */
export function unsupported(example: Example): string[] {
  const problems: string[] = [];
  const where = `example:${example.id} (docs/protocol.md line ${example.line})`;
  if (!RUNNABLE_LANGUAGES.includes(example.language)) problems.push(`${where}: no runner for \`\`\`${example.language} blocks`);
  for (const step of example.steps.filter((s) => s.kind === 'action')) {
    const name = step.text.split(' ')[0]!;
    if (!(RUNNABLE_ACTIONS as readonly string[]).includes(name)) problems.push(`${where}: unknown action "! ${step.text}"`);
    else if (name === 'publish') {
      try {
        parseAction(step.text);
      } catch (err) {
        problems.push(`${where}: "! ${step.text}" has no valid JSON data (${String(err)})`);
      }
    }
  }
  if (!example.steps.some((s) => s.kind === 'receive')) problems.push(`${where}: has no server line, so it checks nothing`);
  if (example.language === 'http' || example.language === 'sse') {
    const sends = example.steps.flatMap((s, i) => (s.kind === 'send' ? [i] : []));
    const firstReceive = example.steps.findIndex((s) => s.kind === 'receive');
    if (sends.length !== 1) problems.push(`${where}: an ${example.language} example is one request, found ${sends.length}`);
    else if (sends[0]! > firstReceive) problems.push(`${where}: the response comes before the request`);
  }
  return problems;
}

export async function runExample(example: Example, srv: TestServer, options: { timeoutMs?: number } = {}): Promise<Transcript> {
  const problems = unsupported(example);
  if (problems.length > 0) throw new UnsupportedExampleError(problems.join('\n'));
  const ctx = await contextFor(srv, options.timeoutMs ?? 10_000);
  try {
    const run = example.language === 'ws' ? runWs : example.language === 'sse' ? runSse : runHttp;
    return await run(example.steps, ctx);
  } finally {
    await ctx.stopping;
  }
}

/* ---------- One run's values, actions and normalisation ---------- */

interface Context {
  srv: TestServer;
  timeoutMs: number;
  /** A client line with this run's epochs and key. */
  client(text: string): string;
  /** A server line with this run's epochs and node. */
  server(text: string): string;
  act(text: string): Promise<void>;
  /** Reads the channels' epochs again: a channel gets its epoch with its first publication (before it, an empty one). */
  readEpochs(): Promise<void>;
  /** Set by `! shutdown`: the server stops while the transcript goes on. */
  stopping: Promise<void> | undefined;
}

async function contextFor(srv: TestServer, timeoutMs: number): Promise<Context> {
  const epochs: Record<string, string> = {};
  const readEpochs = async () => {
    for (const [placeholder, channel] of Object.entries(EPOCH_PLACEHOLDERS)) epochs[placeholder] = (await srv.app.broker.position(channel)).epoch;
  };
  await readEpochs();
  const placeholders = new RegExp(`\\b(${Object.keys(epochs).join('|')})\\b`, 'g');
  const withEpochs = (text: string) => text.replace(placeholders, (p) => epochs[p]!);
  const ctx: Context = {
    srv,
    timeoutMs,
    client: (text) => withEpochs(text).replaceAll(KEY_PLACEHOLDER, srv.config.apiKey).replace(EMPTY_EPOCHS, () => emptyEpoch(Date.now())),
    server: (text) => withEpochs(text).replaceAll(NODE_PLACEHOLDER, srv.app.nodeId),
    async act(text) {
      const action = parseAction(text);
      if ('channel' in action) {
        await srv.publish(action.channel, action.data, action.event === undefined ? {} : { event: action.event });
        await readEpochs();
      }
      else if (action.name === 'shutdown') ctx.stopping ??= srv.app.stop();
      else throw new UnsupportedExampleError(`unknown action "! ${text}"`);
    },
    stopping: undefined,
    readEpochs,
  };
  return ctx;
}

/** JSON with the varying fields masked; anything else as the raw text. */
function normalizeJson(raw: string): unknown {
  const text = maskEmpty(raw);
  try {
    return mask(JSON.parse(text));
  } catch {
    return text;
  }
}

function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, VARYING_FIELDS.has(k) ? VARIES : mask(v)]));
}

const TIMEOUT = Symbol('timeout');

/** The promise's value, or TIMEOUT after `ms`: a deadline, so a missing message fails the step instead of the whole test. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const nothing = (ms: number) => `(nothing within ${ms} ms)`;

/* ---------- WebSocket: one frame per line, `close <code> <reason>` for the close ---------- */

type WsEvent = { frame: string } | { close: number; reason: string };

class WsPeer {
  readonly #events: WsEvent[] = [];
  #wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly ws: WebSocket) {
    // An error is always followed by 'close', which the transcript records; without a listener `ws` would throw.
    ws.on('error', () => undefined);
    ws.on('message', (data) => this.#push({ frame: data.toString() }));
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.#push({ close: code, reason: reason.toString() });
    });
  }

  static async open(url: string): Promise<WsPeer> {
    const peer = new WsPeer(new WebSocket(url));
    await new Promise((resolve, reject) => peer.ws.once('open', resolve).once('error', reject));
    return peer;
  }

  #push(event: WsEvent): void {
    this.#events.push(event);
    this.#wake?.();
  }

  async next(ms: number): Promise<WsEvent | typeof TIMEOUT> {
    if (this.#events.length === 0) await within(new Promise<void>((resolve) => (this.#wake = resolve)), ms);
    this.#wake = undefined;
    return this.#events.shift() ?? TIMEOUT;
  }
}

function wsExpected(text: string): unknown {
  const close = /^close (\d+)(?: (.*))?$/.exec(text);
  return close ? { close: Number(close[1]), reason: close[2] ?? '' } : normalizeJson(text);
}

function wsActual(event: WsEvent | typeof TIMEOUT, ms: number): unknown {
  if (event === TIMEOUT) return nothing(ms);
  return 'frame' in event ? normalizeJson(event.frame) : event;
}

async function runWs(steps: Step[], ctx: Context): Promise<Transcript> {
  const t: Transcript = { expected: [], actual: [] };
  let peer: WsPeer | undefined;
  try {
    for (const step of steps) {
      if (step.kind === 'action') {
        await ctx.act(step.text);
        continue;
      }
      // Connect at the first line that needs the connection: actions before it happen before it exists.
      peer ??= await WsPeer.open(ctx.srv.wsUrl);
      if (step.kind === 'send') {
        peer.ws.send(ctx.client(step.text));
        continue;
      }
      t.expected.push(wsExpected(ctx.server(step.text)));
      const event = await peer.next(ctx.timeoutMs);
      t.actual.push(wsActual(event, ctx.timeoutMs));
      if (event === TIMEOUT) return t;
    }
    if (peer && !peer.closed) {
      // Frames are ordered: if the pong is next, nothing the transcript lacks was sent before it.
      peer.ws.send(JSON.stringify({ id: PROBE_ID, type: 'ping' }));
      t.expected.push({ id: PROBE_ID, type: 'pong' });
      t.actual.push(wsActual(await peer.next(ctx.timeoutMs), ctx.timeoutMs));
    }
    return t;
  } finally {
    peer?.ws.terminate();
  }
}

/* ---------- HTTP requests; SSE responses read event by event ---------- */

function sendRequest(step: Step, ctx: Context): Promise<Response> {
  const message = parseHttpMessage(ctx.client(step.text));
  const { method, url } = requestLine(message);
  return fetch(ctx.srv.url + url.pathname + url.search, { method, headers: message.headers, body: message.body || undefined });
}

/** Status line and the headers the doc shows ("only the headers that matter"). */
function responseHead(expectedText: string, res: Response): { expected: unknown; actual: unknown; body: string } {
  const m = parseHttpMessage(expectedText);
  const expected = { status: m.startLine.replace(/^HTTP\/1\.1 /, ''), headers: m.headers };
  const actual = {
    status: `${res.status} ${res.statusText}`,
    headers: Object.fromEntries(Object.keys(m.headers).map((h) => [h, res.headers.get(h)])),
  };
  return { expected, actual, body: m.body };
}

async function runHttp(steps: Step[], ctx: Context): Promise<Transcript> {
  const t: Transcript = { expected: [], actual: [] };
  const sendAt = steps.findIndex((s) => s.kind === 'send');
  for (const step of steps.slice(0, sendAt)) await ctx.act(step.text);
  const response = sendRequest(steps[sendAt]!, ctx);
  const rest = steps.slice(sendAt + 1);
  if (rest[0]?.kind === 'action') {
    // "Meanwhile": the server must hold the request (a waiting poll) before the action happens.
    await vi.waitFor(
      async () => {
        const info = (await (await ctx.srv.api('/api/info')).json()) as { connections: number };
        if (info.connections < 1) throw new Error('the server does not hold the request yet');
      },
      { timeout: ctx.timeoutMs, interval: 20 },
    );
  }
  for (const step of rest) {
    if (step.kind === 'action') {
      await ctx.act(step.text);
      continue;
    }
    const res = await within(response, ctx.timeoutMs);
    // The request itself may have published (POST /api/publish).
    await ctx.readEpochs();
    if (res === TIMEOUT) {
      t.expected.push(ctx.server(step.text));
      t.actual.push(nothing(ctx.timeoutMs));
      return t;
    }
    const head = responseHead(ctx.server(step.text), res);
    t.expected.push({ ...(head.expected as object), body: normalizeJson(head.body) });
    t.actual.push({ ...(head.actual as object), body: normalizeJson(await res.text()) });
  }
  return t;
}

/** The stream cut into events (blocks of lines ended by a blank line), ping events left out. */
class SseBlocks {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(ms: number): Promise<string[] | 'end' | typeof TIMEOUT> {
    const deadline = Date.now() + ms;
    for (;;) {
      const block = this.#take();
      if (block) return block;
      if (this.#ended) return 'end';
      // A read that lost the race stays pending and is reused: no chunk is dropped.
      this.#pending ??= this.#reader.read();
      const r = await within(this.#pending, Math.max(0, deadline - Date.now()));
      if (r === TIMEOUT) return TIMEOUT;
      this.#pending = undefined;
      if (r.done) this.#ended = true;
      else this.#buffer += this.#decoder.decode(r.value, { stream: true });
    }
  }

  #take(): string[] | undefined {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end < 0) return undefined;
      const block = this.#buffer.slice(0, end).split('\n');
      this.#buffer = this.#buffer.slice(end + 2);
      if (block.join('\n') !== HEARTBEAT) return block;
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel().catch(() => undefined);
  }
}

/** One event as compared: its lines, a `data:` line as masked JSON. */
function sseBlock(lines: string[]): unknown[] {
  return lines.map((line) => (line.startsWith('data: ') ? { data: normalizeJson(line.slice(6)) } : maskEmpty(line)));
}

function expectedBlocks(text: string): string[][] {
  const blocks: string[][] = [[]];
  for (const line of text.split('\n')) {
    if (line === '') blocks.push([]);
    else blocks.at(-1)!.push(line);
  }
  return blocks.filter((b) => b.length > 0);
}

async function runSse(steps: Step[], ctx: Context): Promise<Transcript> {
  const t: Transcript = { expected: [], actual: [] };
  const sendAt = steps.findIndex((s) => s.kind === 'send');
  for (const step of steps.slice(0, sendAt)) await ctx.act(step.text);
  const request = parseHttpMessage(ctx.client(steps[sendAt]!.text));
  const res = await sendRequest(steps[sendAt]!, ctx);
  const stream = new SseBlocks(res.body!);
  try {
    for (const step of steps.slice(sendAt + 1)) {
      if (step.kind === 'action') {
        await ctx.act(step.text);
        continue;
      }
      let text = ctx.server(step.text);
      if (text.startsWith('HTTP/')) {
        const head = responseHead(text, res);
        t.expected.push(head.expected);
        t.actual.push(head.actual);
        text = head.body;
      }
      for (const block of expectedBlocks(text)) {
        t.expected.push(sseBlock(block));
        const got = await stream.next(ctx.timeoutMs);
        t.actual.push(got === TIMEOUT ? nothing(ctx.timeoutMs) : got === 'end' ? 'end of stream' : sseBlock(got));
        if (got === TIMEOUT || got === 'end') return t;
      }
    }
    if (ctx.stopping) {
      t.expected.push('end of stream');
      const got = await stream.next(ctx.timeoutMs);
      t.actual.push(got === TIMEOUT ? nothing(ctx.timeoutMs) : got === 'end' ? 'end of stream' : sseBlock(got));
    } else {
      // Events are ordered: if a new publication is next, nothing the transcript lacks came before it.
      const channel = requestLine(request).url.searchParams.get('channels')!.split(',')[0]!;
      await ctx.srv.publish(channel, SENTINEL);
      t.expected.push({ event: 'event: publication', data: SENTINEL });
      const got = await stream.next(ctx.timeoutMs);
      if (typeof got === 'object') {
        const data = got.find((l) => l.startsWith('data: '));
        t.actual.push({ event: got.find((l) => l.startsWith('event: ')), data: data && (JSON.parse(data.slice(6)) as { data?: unknown }).data });
      } else t.actual.push(got === TIMEOUT ? nothing(ctx.timeoutMs) : 'end of stream');
    }
    return t;
  } finally {
    await stream.cancel();
  }
}
