// A raw WebSocket peer for the fuzz suites. Unlike test/support/ws-client.ts it does not throw
// inside the socket's event handler on a bad frame: it keeps every frame as received, and the
// property checks them (checkServerFrame), so a violation fails the property with its input.
import { expect } from 'vitest';
import WebSocket from 'ws';
import { DISCONNECT_TABLE, ERROR_TABLE, ServerFrame } from '../../contract/index.js';
import { expectAllowedCode } from './checks.js';

export interface FuzzPeer {
  ws: WebSocket;
  /** Every frame after `connected`, parsed when it is JSON (`raw` keeps the text). */
  frames: Array<{ raw: string; json: unknown }>;
  /** Set once the connection closed. */
  closeCode: number | undefined;
  send(data: string | Uint8Array, binary: boolean): void;
  /**
   * Waits until `done()` holds or the connection closes, checking on every frame; fails after
   * `timeoutMs`, or at once when `done` throws (a violation, not a reason to wait longer).
   */
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function connectPeer(url: string): Promise<FuzzPeer> {
  const ws = new WebSocket(url);
  const frames: FuzzPeer['frames'] = [];
  let connected = false;
  const peer: FuzzPeer = {
    ws,
    frames,
    closeCode: undefined,
    send(data, binary) {
      if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary });
    },
    until(done, what, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const finish = (err?: Error) => {
          clearTimeout(timer);
          ws.off('message', check);
          ws.off('close', check);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          // After this peer's own message handler (registered first), so `frames` is up to date.
          try {
            if (done() || peer.closeCode !== undefined) finish();
          } catch (err) {
            finish(err as Error);
          }
        };
        const timer = setTimeout(
          () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; frames: ${frames.map((f) => f.raw).join(' ').slice(0, 1000)}`)),
          timeoutMs,
        );
        ws.on('message', check);
        ws.on('close', check);
        check();
      });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close();
      await closed;
    },
  };
  ws.on('message', (data, isBinary) => {
    const raw = isBinary ? `<binary ${(data as Buffer).length} bytes>` : data.toString();
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    if (!connected && (json as { type?: unknown } | undefined)?.type === 'connected') connected = true;
    else frames.push({ raw, json });
  });
  ws.on('close', (code) => (peer.closeCode = code));
  // A refused or reset socket ends the property through `close`; the error itself adds nothing.
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await peer.until(() => connected, 'the connected frame');
  return peer;
}

const DISCONNECT_CODES = Object.values(DISCONNECT_TABLE).map((row) => row.code);

/** Every server frame is a ServerFrame; an error frame's code, retryable and status come from ERROR_TABLE. */
export function checkServerFrame(frame: { raw: string; json: unknown }): ServerFrame {
  const parsed = ServerFrame.safeParse(frame.json);
  expect(parsed.success, `server frame does not match ServerFrame: ${frame.raw.slice(0, 500)}`).toBe(true);
  const f = parsed.data!;
  if (f.type === 'error') {
    expect(f.retryable, `retryable of ${f.code} in ${frame.raw.slice(0, 300)}`).toBe(ERROR_TABLE[f.code].retryable);
    expectAllowedCode(f.code, `WebSocket error frame ${frame.raw.slice(0, 300)}`);
  }
  return f;
}

/** A close the server initiated must carry a code of DISCONNECT_TABLE. */
export function expectDisconnectCode(code: number | undefined, what: string): void {
  expect(DISCONNECT_CODES, `${what}: close code ${code} is not in DISCONNECT_TABLE`).toContain(code);
}
