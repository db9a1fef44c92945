import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { ErrorBody, EVENT_NAME_RULE, PublishRequest, PublishResult, formatPosition, isEventName } from '../../contract/index.js';
import { CommandError, type CommandResult, parseCommand } from './command.js';

// `hubbub publish CHANNEL DATA|-`: POST /api/publish from a shell or cron job. With `-`, every
// non-empty line of stdin is one publication, sent in order; each success prints its position.

export const PUBLISH_HELP = `Usage: hubbub publish CHANNEL DATA [flags]
       ... | hubbub publish CHANNEL - [flags]

DATA is JSON ('{"text":"hi"}', '"hi"', 42). With -, every non-empty line of stdin is one
publication. Prints the position (<epoch>:<offset>) of each. Stops at the first failure, which it
prints with its error code: exit 1; a bad flag or DATA: exit 2.

  --url URL                the server (default HUBBUB_URL, else http://127.0.0.1:8080)
  --api-key KEY            an API key that may publish (default HUBBUB_API_KEY)
  --idempotency-key KEY    a retry with the same key publishes nothing twice; with -, line N
                           uses KEY-N, so re-running the same input is safe
  --event NAME             the publication's event name (subscribers' subscription.on(NAME, …))
  --text                   send DATA (or each line) as a JSON string, as it is`;

type Publish = z.input<typeof PublishRequest>;

function parseData(text: string, asText: boolean, where: string, exitCode: 1 | 2): Publish['data'] {
  if (asText) return text;
  try {
    return JSON.parse(text) as Publish['data'];
  } catch {
    throw new CommandError(`${where} is not JSON: ${text.slice(0, 80)} (add --text to send it as a string)`, exitCode);
  }
}

async function send(url: string, apiKey: string, body: Publish): Promise<string> {
  let res: Response;
  try {
    res = await fetch(new URL('/api/publish', url), {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CommandError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 1, { cause: err });
  }
  const json: unknown = await res.json().catch(() => undefined);
  if (res.ok) return formatPosition(PublishResult.parse(json));
  const error = ErrorBody.safeParse(json);
  if (!error.success) throw new CommandError(`${url} answered ${res.status} without an error body: is it a Hubbub server?`);
  throw new CommandError(`${error.data.code} (${res.status}): ${error.data.message}`);
}

export async function publish(args: readonly string[]): Promise<CommandResult> {
  const { values, positionals, info } = parseCommand(
    args,
    { url: { type: 'string' }, 'api-key': { type: 'string' }, 'idempotency-key': { type: 'string' }, event: { type: 'string' }, text: { type: 'boolean' } },
    PUBLISH_HELP,
  );
  if (info !== undefined) {
    console.log(info);
    return 0;
  }
  const [channel, data, ...extra] = positionals;
  if (channel === undefined || data === undefined || extra.length > 0) {
    throw new CommandError(`publish takes CHANNEL and DATA (or -)\n\n${PUBLISH_HELP}`, 2);
  }
  const url = values.url ?? process.env.HUBBUB_URL ?? 'http://127.0.0.1:8080';
  const apiKey = values['api-key'] ?? process.env.HUBBUB_API_KEY;
  if (!apiKey) throw new CommandError('publish needs an API key: --api-key or HUBBUB_API_KEY', 2);
  const asText = values.text === true;
  const key = values['idempotency-key'];
  const event = values.event;
  if (event !== undefined && !isEventName(event)) throw new CommandError(`--event ${JSON.stringify(event)}: ${EVENT_NAME_RULE}`, 2);
  const named = event === undefined ? {} : { event };

  if (data !== '-') {
    const body: Publish = { channel, ...named, data: parseData(data, asText, 'DATA', 2), ...(key === undefined ? {} : { idempotencyKey: key }) };
    console.log(await send(url, apiKey, body));
    return 0;
  }
  let lineNo = 0;
  for await (const raw of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
    if (raw.trim() === '') continue;
    const body: Publish = { channel, ...named, data: parseData(raw, asText, `line ${lineNo}`, 1) };
    if (key !== undefined) body.idempotencyKey = `${key}-${lineNo}`;
    try {
      console.log(await send(url, apiKey, body));
    } catch (err) {
      if (err instanceof CommandError) throw new CommandError(`line ${lineNo}: ${err.message}`, err.exitCode, { cause: err });
      throw err;
    }
  }
  return 0;
}
