// Reads the examples of docs/protocol.md so tests can check them against the contract and run them
// against a server. An example is a `<!-- example:<id> -->` comment followed by one fenced block whose
// language is `ws`, `sse` or `http`, written as a transcript (see "Reading the examples" in the doc):
//   `> ` what the client sends, `< ` what the server sends, `! ` something another party does, `# ` a comment.

export type ExampleLanguage = 'ws' | 'sse' | 'http';

export interface Example {
  id: string;
  language: ExampleLanguage;
  /** 1-based line of the marker in the markdown, for error messages. */
  line: number;
  steps: Step[];
}

/** `send`/`receive` of a ws example hold one frame per line; of an http/sse example, one whole message. */
export type Step =
  | { kind: 'send'; text: string }
  | { kind: 'receive'; text: string }
  | { kind: 'action'; text: string };

const MARKER = /^<!--\s*example:([a-z0-9-]+)\s*-->$/;
const KINDS = { '>': 'send', '<': 'receive', '!': 'action' } as const;

export function parseExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]!.trim());
    if (!m) continue;
    const id = m[1]!;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    const fence = /^```(ws|sse|http)\s*$/.exec(lines[j] ?? '');
    if (!fence) throw new Error(`example:${id} (line ${i + 1}) must be followed by a \`\`\`ws, \`\`\`sse or \`\`\`http block`);
    const body: string[] = [];
    for (j++; j < lines.length && lines[j] !== '```'; j++) body.push(lines[j]!);
    if (j === lines.length) throw new Error(`example:${id}: unterminated code block`);
    const language = fence[1] as ExampleLanguage;
    out.push({ id, language, line: i + 1, steps: parseSteps(body, language, id) });
    i = j;
  }
  return out;
}

function parseSteps(body: string[], language: ExampleLanguage, id: string): Step[] {
  const steps: Step[] = [];
  for (const raw of body) {
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const prefix = raw[0] as keyof typeof KINDS;
    const kind = KINDS[prefix];
    if (!kind || (raw.length > 1 && raw[1] !== ' ')) throw new Error(`example:${id}: cannot read line "${raw}"`);
    const text = raw.slice(2);
    const last = steps.at(-1);
    // HTTP and SSE messages span several lines; a WebSocket frame or an action is one line.
    if (language !== 'ws' && kind !== 'action' && last?.kind === kind) last.text += `\n${text}`;
    else steps.push({ kind, text } as Step);
  }
  return steps;
}

export interface HttpMessage {
  /** `POST /api/publish` or `HTTP/1.1 200 OK`. */
  startLine: string;
  headers: Record<string, string>;
  /** Everything after the blank line. */
  body: string;
}

export function parseHttpMessage(text: string): HttpMessage {
  const [head = '', ...rest] = text.split('\n');
  const headers: Record<string, string> = {};
  let i = 0;
  for (; i < rest.length && rest[i] !== ''; i++) {
    const line = rest[i]!;
    const colon = line.indexOf(':');
    if (colon < 1) throw new Error(`not an HTTP header: "${line}"`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { startLine: head, headers, body: rest.slice(i + 1).join('\n') };
}

/** `GET /poll?x=1` → method and URL; `HTTP/1.1 200 OK` → status. */
export function requestLine(message: HttpMessage): { method: string; url: URL } {
  const [method = '', target = ''] = message.startLine.split(' ');
  return { method, url: new URL(target, 'http://hubbub.invalid') };
}

export function statusOf(message: HttpMessage): number {
  const m = /^HTTP\/1\.1 (\d{3})\b/.exec(message.startLine);
  if (!m) throw new Error(`not a status line: "${message.startLine}"`);
  return Number(m[1]);
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** The SSE wire format: fields until a blank line; `:` lines are comments (heartbeats). */
export function parseSseEvents(stream: string): SseEvent[] {
  const out: SseEvent[] = [];
  let current: { event?: string; id?: string; data: string[] } = { data: [] };
  for (const line of [...stream.split('\n'), '']) {
    if (line === '') {
      if (current.data.length > 0) out.push({ event: current.event ?? 'message', id: current.id, data: current.data.join('\n') });
      current = { data: [] };
    } else if (!line.startsWith(':')) {
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') current.event = value;
      else if (field === 'id') current.id = value;
      else if (field === 'data') current.data.push(value);
    }
  }
  return out;
}

/**
 * `! publish chat:lobby {"text":"hi"}` → the channel and data; `! publish chat:lobby event=create {…}`
 * also names the publication's event. Other actions are returned as words.
 */
export function parseAction(
  text: string,
): { name: 'publish'; channel: string; data: unknown; event?: string } | { name: string; args: string } {
  const [name = '', ...rest] = text.split(' ');
  if (name !== 'publish') return { name, args: rest.join(' ') };
  const [channel = '', ...json] = rest;
  const event = json[0]?.startsWith('event=') ? json.shift()!.slice('event='.length) : undefined;
  const data = JSON.parse(json.join(' ')) as unknown;
  return event === undefined ? { name, channel, data } : { name, channel, data, event };
}
