import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { NatsDecodeError, decodeMessage, encodeEntry, encodeMessage } from '../server/broker/nats/codec.js';

// The stored form of event names on NATS: each entry of a message (one, or a batch's) holds its own
// `e`; a name that is not an EventName (written by something that skipped the contract) is a counted
// decode error, like malformed tags, never a publication handed to the fan-out.

const position = { epoch: 'k3x9a1b2c3d4', last: 3, time: 1_732_240_000_000, prevSeq: 0 };
const encoder = new TextEncoder();

describe('NATS codec: event names', () => {
  it('writes `e` only for a publication with an event, and reads each batch entry back with its own', () => {
    expect(encodeEntry({ a: 1 })).toBe('{"d":{"a":1}}');
    expect(encodeEntry(1, { event: 'create', tags: { k: 'v' } })).toBe('{"d":1,"e":"create","t":{"k":"v"}}');
    const { headers: h, body } = encodeMessage(position, [encodeEntry('a', { event: 'create' }), encodeEntry('b'), encodeEntry('c', { event: 'x.y:z' })]);
    const { pubs } = decodeMessage('chat:a', h, body);
    expect(pubs.map((p) => [p.offset, p.data, p.event])).toEqual([
      [1, 'a', 'create'],
      [2, 'b', undefined],
      [3, 'c', 'x.y:z'],
    ]);
    expect('event' in pubs[1]!).toBe(false);
  });

  it.each([['has space'], [''], ['e'.repeat(65)], [42], [null]])('refuses a stored event name %j as a decode error', (e) => {
    const h = headers();
    h.set('Hubbub-Epoch', position.epoch);
    h.set('Hubbub-Offset', '1');
    h.set('Hubbub-Time', String(position.time));
    h.set('Hubbub-Prev-Seq', '0');
    expect(() => decodeMessage('chat:a', h, encoder.encode(JSON.stringify({ d: 1, e })))).toThrow(NatsDecodeError);
  });
});
