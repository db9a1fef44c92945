// A WebSocket client written on a bare `net` socket, so a test controls exactly when bytes are read
// (pause, resume, never) without reaching into a library's private socket.
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { ServerFrame } from '../../contract/index.js';

export interface NetWs {
  readonly socket: Socket;
  /** Every text frame that is a valid ServerFrame. */
  readonly frames: ServerFrame[];
  /** Text frames that are not: a test expects none. */
  readonly invalid: string[];
  /** Bytes of publication frames received so far. */
  readonly publicationBytes: number;
  /** The close code of the server's close frame, or 1006 when the socket ended without one. */
  readonly closeCode: Promise<number>;
  send(frame: unknown): void;
  /** An unsolicited pong: the server then sees a live peer, whether or not this one reads. */
  pong(): void;
  destroy(): void;
}

const OP = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

function encode(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.alloc(4);
  if (len >= 126) {
    if (len > 0xffff) throw new Error('frames over 64 KiB are not needed here');
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

export async function openNetWs(wsUrl: string): Promise<NetWs> {
  const url = new URL(wsUrl);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined); // a reset by the server shows as 'close'
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const frames: ServerFrame[] = [];
  const invalid: string[] = [];
  let publicationBytes = 0;
  let buffered = Buffer.alloc(0);
  // Chunks not yet joined, so a large frame arriving in many reads is copied once.
  let chunks: Buffer[] = [];
  let chunkBytes = 0;
  let needed = 0;
  let upgraded = false;
  let gotClose: number | undefined;
  let onUpgrade: (() => void) | undefined;
  let onFailure: ((err: Error) => void) | undefined;

  const parse = () => {
    if (!upgraded) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 101')) return onFailure?.(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
      upgraded = true;
      buffered = buffered.subarray(end + 4);
      onUpgrade?.();
    }
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0]! & 0x0f;
      let len = buffered[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffered.length < 4) return;
        len = buffered.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buffered.length < 10) return;
        len = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffered.length < offset + len) {
        needed = offset + len;
        return;
      }
      const payload = buffered.subarray(offset, offset + len);
      buffered = buffered.subarray(offset + len);
      if (opcode === OP.text) {
        const parsed = ServerFrame.safeParse(JSON.parse(payload.toString()));
        if (!parsed.success) invalid.push(payload.toString());
        else {
          if (parsed.data.type === 'publication') publicationBytes += len;
          frames.push(parsed.data);
        }
      } else if (opcode === OP.ping) socket.write(encode(OP.pong, payload));
      else if (opcode === OP.close) {
        gotClose = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        socket.end(encode(OP.close, payload.subarray(0, 2)));
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    chunkBytes += chunk.length;
    if (buffered.length + chunkBytes < needed) return;
    buffered = Buffer.concat([buffered, ...chunks]);
    chunks = [];
    chunkBytes = 0;
    needed = 0;
    parse();
  });
  const closeCode = new Promise<number>((resolve) => socket.once('close', () => resolve(gotClose ?? 1006)));
  await new Promise<void>((resolve, reject) => {
    onUpgrade = resolve;
    onFailure = reject;
    if (upgraded) resolve();
  });
  return {
    socket,
    frames,
    invalid,
    get publicationBytes() {
      return publicationBytes;
    },
    closeCode,
    send: (frame) => socket.write(encode(OP.text, Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)))),
    pong: () => socket.write(encode(OP.pong, Buffer.alloc(0))),
    destroy: () => socket.destroy(),
  };
}
