import WebSocket from 'ws';
import { ServerFrame } from '../../contract/index.js';

/** A raw WebSocket peer for tests: collects validated server frames and the close code. */
export interface RawWs {
  ws: WebSocket;
  frames: ServerFrame[];
  closeCode: Promise<number>;
  send(frame: unknown): void;
  /** Resolves with the first frame matching `pred` (already received or future). */
  next<T extends ServerFrame['type']>(type: T, pred?: (f: Extract<ServerFrame, { type: T }>) => boolean): Promise<Extract<ServerFrame, { type: T }>>;
  close(): Promise<void>;
}

export async function connectWs(url: string, options: WebSocket.ClientOptions = {}): Promise<RawWs> {
  const ws = new WebSocket(url, options);
  const frames: ServerFrame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (raw) => {
    frames.push(ServerFrame.parse(JSON.parse(raw.toString())));
    for (const w of waiters.splice(0)) w();
  });
  const closeCode = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const peer: RawWs = {
    ws,
    frames,
    closeCode,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next(type, pred = () => true) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = frames.find((f) => f.type === type && pred(f as never));
          if (hit) resolve(hit as never);
          else waiters.push(check);
        };
        check();
      });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closeCode;
    },
  };
  await peer.next('connected');
  return peer;
}
