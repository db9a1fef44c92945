import net from 'node:net';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TurnWrites } from '../server/transports/turn-writes.js';

// The fan-out's writes of one loop turn leave a socket together (server/transports/turn-writes.ts):
// held until the turn's I/O is done, then let go once, in order, nothing kept.

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A connected socket pair on loopback: `local` is ours, `received` collects what the peer reads. */
async function pair(): Promise<{ local: net.Socket; received: () => string }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const local = net.connect(port, '127.0.0.1');
  await once(local, 'connect');
  const [peer] = await accepted;
  let text = '';
  peer.setEncoding('utf8').on('data', (s: string) => (text += s));
  closers.push(() => {
    local.destroy();
    peer.destroy();
    server.close();
  });
  return { local, received: () => text };
}

describe('TurnWrites', () => {
  it('holds a turn\'s writes to a socket and lets them go together after the turn, in order', async () => {
    const turn = new TurnWrites();
    const { local, received } = await pair();
    for (const piece of ['a', 'b', 'c']) {
      turn.hold(local);
      local.write(piece);
    }
    // Held: corked once however many writes, every byte waiting in the socket.
    expect(local.writableCorked).toBe(1);
    expect(local.writableLength).toBe(3);
    await nextTurn();
    expect(local.writableCorked).toBe(0);
    await expect.poll(received).toBe('abc');
    // The next turn starts anew.
    turn.hold(local);
    local.write('d');
    expect(local.writableCorked).toBe(1);
    await nextTurn();
    await expect.poll(received).toBe('abcd');
  });

  it('nests inside the pairs of corks that http and ws put around their own writes', async () => {
    const turn = new TurnWrites();
    const { local, received } = await pair();
    turn.hold(local);
    local.cork();
    local.write('x');
    local.write('y');
    local.uncork();
    expect(local.writableLength).toBe(2);
    await nextTurn();
    await expect.poll(received).toBe('xy');
  });

  it('leaves alone a socket someone else corked, and one that ended or was destroyed within the turn', async () => {
    const turn = new TurnWrites();
    const a = await pair();
    a.local.cork();
    turn.hold(a.local);
    a.local.write('1');
    await nextTurn();
    // Not ours to let go.
    expect(a.local.writableCorked).toBe(1);
    a.local.uncork();
    await expect.poll(a.received).toBe('1');

    const b = await pair();
    turn.hold(b.local);
    b.local.write('bye');
    b.local.end();
    const c = await pair();
    turn.hold(c.local);
    c.local.write('lost');
    c.local.destroy();
    await nextTurn();
    await expect.poll(b.received).toBe('bye');
    // Nothing was written after the destroy, and letting it go threw nothing (an error would fail the test).
    expect(c.local.destroyed).toBe(true);
    expect(c.received()).toBe('');
  });
});
