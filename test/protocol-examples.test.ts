import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Example, parseExamples } from '../docs/examples.js';
import { UnsupportedExampleError, runExample, unsupported } from './support/protocol-runner.js';
import { startServer } from './support/server.js';

/**
 * Every transcript of docs/protocol.md, replayed against a real server: what the doc says the
 * server answers is what it answers, line for line (only `time`, `client`, `node`, `version` and
 * the epochs vary). test/openapi.test.ts checks the same examples against the schemas only.
 */
const PROTOCOL_MD = new URL('../docs/protocol.md', import.meta.url);
const examples = parseExamples(readFileSync(PROTOCOL_MD, 'utf8'));

describe('docs/protocol.md', () => {
  it('has examples, with unique ids, all of kinds the runner can replay', () => {
    expect(examples.length, 'no <!-- example:<id> --> found: nothing would be checked').toBeGreaterThan(0);
    const ids = examples.map((e) => e.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i), 'duplicate example ids').toEqual([]);
    expect(examples.flatMap(unsupported)).toEqual([]);
  });

  it.each(examples.map((e) => [e.id, e] as const))('example %s is what the server does', async (_id, example) => {
    await using srv = await startServer();
    const { expected, actual } = await runExample(example, srv);
    expect(actual).toEqual(expected);
  });
});

/** A copy of a doc example with one server line changed; fails loudly if the text is not there. */
function edited(id: string, from: string, to: string): Example {
  const example = examples.find((e) => e.id === id);
  if (!example) throw new Error(`no example ${id} in docs/protocol.md`);
  const steps = example.steps.map((s) => ({ ...s }));
  const step = steps.find((s) => s.kind === 'receive' && s.text.includes(from));
  if (!step) throw new Error(`example ${id} has no server line with ${from}`);
  step.text = step.text.replace(from, to);
  return { ...example, steps };
}

/** Drops the example's last server step (a frame, or the stream's last event): the server still sends it. */
function truncated(id: string): Example {
  const example = examples.find((e) => e.id === id)!;
  const last = example.steps.findLastIndex((s) => s.kind === 'receive');
  return { ...example, steps: example.steps.filter((_, i) => i !== last) };
}

describe('the example runner', () => {
  it.each([
    ['ws-subscribe', '"offset":0', '"offset":5'],
    ['ws-shutdown', 'close 4000', 'close 4001'],
    ['sse-subscribe', 'retry: 1000', 'retry: 3000'],
    ['sse-subscribe', 'no-cache, no-transform', 'no-cache'],
    ['poll-first', '"recovered":false}]', '"recovered":true}]'],
    ['rest-unauthorized', '401 Unauthorized', '403 Forbidden'],
    // Empty positions are masked for their time only: a real epoch or another offset still differs.
    ['ws-subscribe', '"epoch":"00m3s2yy9s"', '"epoch":"e1x2y3"'],
    ['sse-subscribe', 'id: 00m3s2yy9s:0,', 'id: 00m3s2yy9s:1,'],
  ])('fails %s when its %s is changed to %s', async (id, from, to) => {
    await using srv = await startServer();
    const { expected, actual } = await runExample(edited(id, from, to), srv);
    expect(actual).not.toEqual(expected);
  });

  it.each(['ws-subscribe', 'sse-subscribe'])('fails %s when the server sends more than the transcript shows', async (id) => {
    await using srv = await startServer();
    const { expected, actual } = await runExample(truncated(id), srv);
    expect(actual).not.toEqual(expected);
  });

  it('masks only the varying fields and substitutes the real epochs', async () => {
    await using srv = await startServer();
    const { actual } = await runExample(examples.find((e) => e.id === 'ws-subscribe')!, srv);
    const epoch = (await srv.app.broker.position('chat:lobby')).epoch;
    expect(actual[0]).toEqual({ type: 'connected', client: '<varies>', node: '<varies>', version: '<varies>', pingInterval: 25_000, user: null });
    expect(actual.at(-2)).toMatchObject({ type: 'publication', epoch, time: '<varies>' });
  });

  it('refuses an example of an unknown kind instead of passing it unchecked', async () => {
    await using srv = await startServer();
    const base = examples.find((e) => e.language === 'ws')!;
    const restart: Example = { ...base, steps: [{ kind: 'action', text: 'restart' }, ...base.steps] };
    const grpc = { ...base, language: 'grpc' } as unknown as Example;
    const silent: Example = { ...base, steps: base.steps.filter((s) => s.kind !== 'receive') };
    for (const example of [restart, grpc, silent]) {
      expect(unsupported(example)).toHaveLength(1);
      await expect(runExample(example, srv)).rejects.toBeInstanceOf(UnsupportedExampleError);
    }
  });
});
